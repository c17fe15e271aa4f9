"""The one exception a rule raises to refuse a well-formed event.

Pure code (every `domain/`) raises it; the consume loops (plain aiokafka and faust)
dead-letter the event with its reason and go on.
"""


class Rejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
