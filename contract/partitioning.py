"""Which partition a key lands on: the producers' default partitioner (murmur2, as Java's and
aiokafka's clients compute it). Every dongbo topic is keyed by the dossier id, so this says which
worker owns a dossier; the merge engine is handed it rather than importing a Kafka client."""

from __future__ import annotations

from aiokafka.partitioner import murmur2


def partition_of(key: bytes, partitions: int) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % partitions
