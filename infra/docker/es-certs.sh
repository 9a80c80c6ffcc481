#!/bin/bash
# One-shot (docker-compose service "es-certs"): a private CA and the node's TLS certificate,
# made once into the "certs" volume with the tool shipped in the Elasticsearch image.
# Everything that talks to Elasticsearch trusts ca/ca.crt (TS_ES_CA_CERTS).
set -euo pipefail
cd /usr/share/elasticsearch
dir=config/certs
if [ ! -f "$dir/ca/ca.crt" ]; then
    echo "creating the CA"
    bin/elasticsearch-certutil ca --silent --pem --out "$dir/ca.zip"
    unzip -oq "$dir/ca.zip" -d "$dir"
fi
if [ ! -f "$dir/elasticsearch/elasticsearch.crt" ]; then
    echo "creating the node certificate"
    cat >"$dir/instances.yml" <<YML
instances:
  - name: elasticsearch
    dns: [elasticsearch, es02, es03, localhost]
    ip: [127.0.0.1]
YML
    bin/elasticsearch-certutil cert --silent --pem --in "$dir/instances.yml" --out "$dir/certs.zip" \
        --ca-cert "$dir/ca/ca.crt" --ca-key "$dir/ca/ca.key"
    unzip -oq "$dir/certs.zip" -d "$dir"
fi
# Group root (gid 0) reads the node's key: the Elasticsearch and Kibana images run as uid 1000,
# gid 0. Everyone reads the CA certificate (the services only need that); the CA key stays root's.
chown -R root:root "$dir"
find "$dir" -type d -exec chmod 755 {} +
find "$dir" -type f -exec chmod 640 {} +
chmod 644 "$dir/ca/ca.crt"
chmod 600 "$dir/ca/ca.key"
echo "certificates ready"
