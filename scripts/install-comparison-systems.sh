#!/bin/sh
# Installs the systems `ballot bench failover --system etcd|zookeeper` measures ballot against:
# Debian's etcd-server (the etcd binary, /usr/bin/etcd) and zookeeper (jars under /usr/share/java,
# run by the bench with the system's java). Safe to run again: apt-get skips what is installed.
#
# The bench starts its own processes on 127.0.0.1 with fresh data directories; it never uses the
# packages' system services. Debian starts etcd as a service on install (listening on 127.0.0.1:2379
# and :2380), which would collide with nothing of ours but wastes a core on a 2-core machine, so this
# script stops and disables any such service.
#
# Usage: sudo scripts/install-comparison-systems.sh     (Debian 12 or later; needs network access)
set -eu

if [ "$(id -u)" -ne 0 ]; then
  echo "install-comparison-systems: run as root (apt-get install needs it), e.g. with sudo" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-comparison-systems: apt-get not found; this script is for Debian (and Ubuntu)" >&2
  exit 1
fi

# Keep packages from starting services during installation where policy-rc.d is honoured; the
# services are stopped and disabled below in any case.
policy=/usr/sbin/policy-rc.d
created_policy=no
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod 755 "$policy"
  created_policy=yes
fi
cleanup() { if [ "$created_policy" = yes ]; then rm -f "$policy"; fi; }
trap cleanup EXIT INT TERM

need=""
dpkg -s etcd-server >/dev/null 2>&1 || need="$need etcd-server"
dpkg -s zookeeper >/dev/null 2>&1 || need="$need zookeeper"
if [ -n "$need" ]; then
  echo "installing:$need"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $need
else
  echo "etcd-server and zookeeper are already installed"
fi

# Stop and disable the packages' own services: the bench runs its own clusters.
for service in etcd zookeeper; do
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now "$service" >/dev/null 2>&1 || true
  fi
  if [ -x "/etc/init.d/$service" ]; then
    "/etc/init.d/$service" stop >/dev/null 2>&1 || true
    update-rc.d "$service" disable >/dev/null 2>&1 || true
  fi
done

# Check what the bench needs.
status=0
if [ -x /usr/bin/etcd ]; then
  echo "etcd: $(/usr/bin/etcd --version 2>/dev/null | head -n 1)"
else
  echo "etcd: /usr/bin/etcd missing after installation" >&2
  status=1
fi
if ls /usr/share/java/zookeeper*.jar >/dev/null 2>&1; then
  echo "zookeeper: $(ls /usr/share/java/zookeeper*.jar | head -n 1)"
else
  echo "zookeeper: no /usr/share/java/zookeeper*.jar after installation" >&2
  status=1
fi
if command -v java >/dev/null 2>&1; then
  echo "java: $(java -version 2>&1 | head -n 1)"
else
  echo "java: not found (the zookeeper package depends on a JRE; install default-jre-headless)" >&2
  status=1
fi
exit $status
