"""An independent Kafka client for the tests (kafka-python, pure Python; not
librdkafka, which Weir itself uses). Installed by scripts/kafka-broker.sh.

    kafka_client.py produce BROKERS TOPIC [--keyed]   # one message per stdin line ("key<TAB>value" with --keyed)
    kafka_client.py consume BROKERS TOPIC             # every value, one per line, until the topic is idle
    kafka_client.py committed BROKERS TOPIC GROUP     # "partition offset" per partition the group committed
    kafka_client.py rewind BROKERS TOPIC GROUP        # commits offset 0 for every partition (the group must be empty)
"""

import sys

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata


def main(command: str, brokers: str, topic: str, *flags: str) -> None:
    if command == "produce":
        producer = KafkaProducer(bootstrap_servers=brokers)
        for line in sys.stdin.read().splitlines():
            key, value = line.split("\t", 1) if "--keyed" in flags else (None, line)
            producer.send(topic, value.encode(), key=key.encode() if key is not None else None)
        producer.flush()
    elif command == "consume":
        consumer = KafkaConsumer(topic, bootstrap_servers=brokers,
                                 auto_offset_reset="earliest", consumer_timeout_ms=3000)
        for message in consumer:
            print(message.value.decode())
    elif command == "committed":
        consumer = KafkaConsumer(bootstrap_servers=brokers, group_id=flags[0],
                                 enable_auto_commit=False)
        for partition in sorted(consumer.partitions_for_topic(topic) or []):
            offset = consumer.committed(TopicPartition(topic, partition))
            if offset is not None:
                print(partition, offset)
    elif command == "rewind":
        consumer = KafkaConsumer(bootstrap_servers=brokers, group_id=flags[0],
                                 enable_auto_commit=False)
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        consumer.assign(partitions)
        consumer.commit({tp: OffsetAndMetadata(0, "", -1) for tp in partitions})
        consumer.close()
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(*sys.argv[1:])
