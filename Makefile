# Thin entry points; the logic lives in infra/local/*.sh (see the comments at their top).
#   make up       venv + local Redis/Elasticsearch (unless TS_REDIS_URL/TS_ES_URL) + the five services
#   make down     stop exactly what `make up` started
#   make test     venv + pytest (tests start private Redis/Elasticsearch themselves)
#   make status | logs | logs-follow | venv | es-fetch
SHELL := /bin/bash
LOCAL := infra/local
TS_CACHE_DIR ?= $(HOME)/.cache/trustscope
TS_VENV ?= $(TS_CACHE_DIR)/venv
export TS_CACHE_DIR TS_VENV
PYTEST_ARGS ?=

.PHONY: up down status logs logs-follow test venv es-fetch help

help:
	@sed -n '2,5p' Makefile

up:
	@bash $(LOCAL)/stack.sh up

down:
	@bash $(LOCAL)/stack.sh down

status:
	@bash $(LOCAL)/stack.sh status

logs:
	@bash $(LOCAL)/stack.sh logs

logs-follow:
	@bash $(LOCAL)/stack.sh logs -f

venv:
	@bash $(LOCAL)/venv.sh

es-fetch:
	@bash $(LOCAL)/elasticsearch.sh fetch

# `python -m pytest` puts this clone first on sys.path, whatever the venv's editable install.
# make turns any failure into exit 2; .ci/run reads pytest's own code from TS_PYTEST_RC_FILE.
test: venv
	@rc=0; $(TS_VENV)/bin/python -m pytest $(PYTEST_ARGS) || rc=$$?; \
	if [ -n "$$TS_PYTEST_RC_FILE" ]; then echo $$rc >"$$TS_PYTEST_RC_FILE"; fi; exit $$rc
