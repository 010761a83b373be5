"""spec -> Plan -> Tuner -> Summary.

``plan`` (every check before Ray starts), ``experiment`` (the only module that assembles a
``ray.tune.Tuner``), ``session`` and ``auth`` (starting or joining Ray, tokens), ``stopping``,
``scheduling``, ``finish`` with its steps ``refit`` and ``ensemble_step``, ``predict``.
Named ``runner`` because ``raytuner.run`` is the public function.
"""
