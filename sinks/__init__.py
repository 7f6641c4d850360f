"""ClickHouse storage: schema and migrations, the batched idempotent sink, embedded-mode queries.

Modules, one role each: ``config`` (SinkSettings), ``ddl`` + ``migrations`` (schema),
``rows`` / ``fast_usage`` / ``buffer`` / ``config_history`` (pure decoding and batching),
``store`` (inserts and lookups), ``writer`` (consume → store → commit), ``service`` /
``__main__`` (the sink process),
``server`` / ``wire`` / ``readonly`` / ``owner`` / ``query_client`` (read-only SQL for other
processes; ``sql_policy`` holds the pure rules a guest query must pass), ``webhook`` +
``webhook_signature`` (signed alert delivery), ``testing`` (run a sink as a child process),
``clickhouse`` (the only module that imports clickhouse_connect). Import from the modules; this
package imports nothing on purpose, so ``sinks.webhook`` and friends stay cheap to import.
"""
