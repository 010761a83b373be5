"""What users write: the pydantic spec models (``models``, ``sklearn``, ``torch``), the
search-space DSL (``params``) and its Ray Tune domains (``space``), the YAML loader with
``--set`` overrides and the JSON Schema (``loader``), and the name -> lazy import
registry every strategy, scheduler, trainable and ensemble method is looked up in
(``registry``). Knows nothing of Ray at import time.
"""
