#!/bin/bash
# One-shot (docker-compose service "es-setup"), run once Elasticsearch is healthy:
#  - sets the password of the built-in kibana_system user (Kibana may not use "elastic");
#  - creates role trustscope_app (the trustscope* indices, aliases and index templates only)
#    and the services' user TS_ES_USERNAME with it, so no service runs as superuser.
# Safe to run twice: every call is a create-or-update.
set -euo pipefail
: "${ELASTIC_PASSWORD:?set ELASTIC_PASSWORD in .env}" "${KIBANA_PASSWORD:?set KIBANA_PASSWORD in .env}"
: "${TS_ES_USERNAME:?set TS_ES_USERNAME in .env}" "${TS_ES_PASSWORD:?set TS_ES_PASSWORD in .env}"
es=https://elasticsearch:9200
api() {  # api METHOD PATH JSON
    curl -fsS --cacert config/certs/ca/ca.crt -u "elastic:$ELASTIC_PASSWORD" \
        -H 'Content-Type: application/json' -X "$1" "$es$2" -d "$3"
    echo
}
cd /usr/share/elasticsearch
api POST /_security/user/kibana_system/_password "{\"password\": \"$KIBANA_PASSWORD\"}"
api PUT /_security/role/trustscope_app '{
  "cluster": ["monitor", "manage_index_templates"],
  "indices": [{"names": ["trustscope*"], "privileges": ["all"]}]
}'
api PUT "/_security/user/$TS_ES_USERNAME" "{
  \"password\": \"$TS_ES_PASSWORD\", \"roles\": [\"trustscope_app\"],
  \"full_name\": \"TrustScope services\"
}"
echo "security set up: kibana_system password, role trustscope_app, user $TS_ES_USERNAME"
