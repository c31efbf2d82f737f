#!/usr/bin/env bash
# Install the Cutwatch probe on a Raspberry Pi (Raspberry Pi OS bookworm) or any Debian-like
# machine with systemd and Python >= 3.11, in one command:
#
#   sudo bash deploy/pi/install.sh --collector https://collector.example.org \
#       --token ENROLLMENT_TOKEN --country MM --subdivision MM-07 --city Bago --access fixed
#
# It creates an unprivileged user, a virtualenv in /opt/cutwatch-probe with only
# 'cutwatch[probe]' built as the probe's wheel (CUTWATCH_DIST=probe: the core and the probe,
# no service, detector, lab or demo code, and none of their dependencies), a config in /etc/cutwatch/probe.toml, registers the
# probe with the collector (credentials in /var/lib/cutwatch-probe, mode 0600) and enables
# the systemd unit. Run it again to upgrade; an existing config and registration are kept.
# Options: --raw-sockets (allow icmp/traceroute checks: CAP_NET_RAW), --package SPEC
# (what pip installs, default this checkout with the probe extra, '<checkout>[probe]';
# Cutwatch is not published on PyPI, so a bare 'cutwatch' would be someone else's), --name LABEL.
set -euo pipefail

PREFIX=/opt/cutwatch-probe
CONFIG_DIR=/etc/cutwatch
CONFIG="$CONFIG_DIR/probe.toml"
STATE_DIR=/var/lib/cutwatch-probe
SERVICE_USER=cutwatch-probe
UNIT_DIR=/etc/systemd/system
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

collector="" token="" country="" subdivision="" city="" access="" name=""
package="$(cd "$HERE/../.." && pwd)[probe]" raw_sockets=0

die() { echo "install.sh: error: $*" >&2; exit 2; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --collector) collector="${2:?}"; shift 2 ;;
    --token) token="${2:?}"; shift 2 ;;
    --country) country="${2:?}"; shift 2 ;;
    --subdivision) subdivision="${2:?}"; shift 2 ;;
    --city) city="${2:?}"; shift 2 ;;
    --access) access="${2:?}"; shift 2 ;;
    --name) name="${2:?}"; shift 2 ;;
    --package) package="${2:?}"; shift 2 ;;
    --raw-sockets) raw_sockets=1; shift ;;
    -h|--help) sed -n '2,/^set /s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

[[ $EUID -eq 0 ]] || die "run as root (sudo bash $0 ...)"
[[ -f "$HERE/../systemd/cutwatch-probe.service" ]] || die "run from a Cutwatch checkout"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "Python 3.11 or newer is needed"
python3 -c 'import venv, ensurepip' 2>/dev/null || apt-get install -y python3-venv

echo "==> user $SERVICE_USER"
id -u "$SERVICE_USER" >/dev/null 2>&1 \
  || useradd --system --home-dir "$STATE_DIR" --no-create-home --shell /usr/sbin/nologin \
       "$SERVICE_USER"
install -d -o "$SERVICE_USER" -g "$SERVICE_USER" -m 0700 "$STATE_DIR"

echo "==> virtualenv $PREFIX/venv with $package"
[[ -x "$PREFIX/venv/bin/python" ]] || python3 -m venv "$PREFIX/venv"
"$PREFIX/venv/bin/pip" install --quiet --upgrade pip
CUTWATCH_DIST=probe "$PREFIX/venv/bin/pip" install --quiet --upgrade "$package"
install -d -m 0755 "$PREFIX/docs"
[[ -f "$HERE/../../docs/probe.md" ]] && install -m 0644 "$HERE/../../docs/probe.md" "$PREFIX/docs/"

echo "==> config $CONFIG"
install -d -m 0755 "$CONFIG_DIR"
if [[ ! -f "$CONFIG" ]]; then
  [[ -n "$collector" ]] || die "--collector is needed for a first install"
  cat > "$CONFIG" <<TOML
# Cutwatch probe configuration; reference: $PREFIX/docs/probe.md
[probe]
state_dir = "$STATE_DIR"
collectors = ["$collector"]

# Targets come from the collector's catalogue at check-in. Add your own here, e.g.:
# [[targets]]
# kind = "tcp"
# name = "my-isp-portal"
# tag = "domestic"
# host = "portal.example.net"
# port = 443
TOML
  chmod 0644 "$CONFIG"
fi

if [[ ! -f "$STATE_DIR/credentials.json" ]]; then
  echo "==> registering with $collector"
  [[ -n "$token" && -n "$country" && -n "$access" ]] \
    || die "--token, --country and --access are needed to register"
  args=(--collector "$collector" --token "$token" --country "$country" --access "$access"
        --state-dir "$STATE_DIR")
  [[ -n "$subdivision" ]] && args+=(--subdivision "$subdivision")
  [[ -n "$city" ]] && args+=(--city "$city")
  [[ -n "$name" ]] && args+=(--name "$name")
  runuser -u "$SERVICE_USER" -- "$PREFIX/venv/bin/cutwatch" probe register "${args[@]}"
else
  echo "==> already registered ($STATE_DIR/credentials.json kept)"
fi

echo "==> systemd unit"
install -m 0644 "$HERE/../systemd/cutwatch-probe.service" "$UNIT_DIR/cutwatch-probe.service"
if [[ $raw_sockets -eq 1 ]]; then
  install -D -m 0644 "$HERE/../systemd/cutwatch-probe.service.d/raw-sockets.conf" \
    "$UNIT_DIR/cutwatch-probe.service.d/raw-sockets.conf"
fi
systemctl daemon-reload
systemctl enable --now cutwatch-probe.service
systemctl restart cutwatch-probe.service

echo
echo "Cutwatch probe installed and running. Check it with:"
echo "  sudo -u $SERVICE_USER $PREFIX/venv/bin/cutwatch probe status --config $CONFIG"
echo "  journalctl -u cutwatch-probe -f"
