"""``cutwatch drill``: the whole system watching a real network being cut, in namespaces.

Builds countries, ISPs and probe hosts as Linux network namespaces (root and ``ip netns``
needed), runs the real collector and real ``cutwatch probe run`` processes inside them, cuts
links with ``ip``/``tc``, and checks the signed webhooks that arrive. Service side only: the
probe's install does not carry it.
"""
