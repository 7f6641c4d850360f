"""The stream: raw usage records -> validated, deduplicated, attributed, priced usage.

Pure rules: ``validation``, ``dedupe``, ``attribution``, ``pricing`` (+ ``price_file``,
``genai_source``), combined per record by ``enrich``. Faust shell: ``app``, ``topics``,
``tables``, ``agents`` (run with ``python -m stream worker`` or ``meterline stream run``).
"""
