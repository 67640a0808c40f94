"""The shared contract, below every part of dongbo: settings, topic names, source systems.

Every part (producers, streams, sinks, monitoring, the CLI) imports from here, and this package
imports no other part of dongbo. Only ``contract.settings`` reads the environment.
"""
