"""The Kafka topic registry as data: names, keys, layout and the events each topic carries."""

from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args

from pydantic import Field, TypeAdapter

from schemas.campaigns import CampaignAnnounced
from schemas.customer import (
    CartAdded,
    ChatStarted,
    CouponClaimed,
    CustomerProfileUpdated,
    OrderPlaced,
    ProductViewed,
    ShopFollowed,
    ShopUnfollowed,
)
from schemas.dead_letter import DeadLetter, DeadLetterRedriven
from schemas.delivery import DeliveryProgressed, PlanShardAssigned
from schemas.engagement import (
    MessageClicked,
    MessageDelivered,
    MessageFailed,
    MessageRead,
    ShopBlocked,
    ShopUnblocked,
)
from schemas.envelope import Event
from schemas.outbound import OutboundMessage
from schemas.plans import (
    CancelPlan,
    CompletePlan,
    CreatePlan,
    DeletePlan,
    EditPlan,
    PlanCancelled,
    PlanCommandAnswered,
    PlanCompleted,
    PlanCreated,
    PlanDeleted,
    PlanDispatched,
    PlanEdited,
    PlanEnded,
    PlanRejected,
    PlanScheduled,
    PlanShardCompleted,
    PlanStarted,
    SubmitPlan,
)
from schemas.quota import (
    CampaignQuotaReleased,
    CampaignQuotaReserved,
    QuotaReleased,
    QuotaReserved,
)
from schemas.segments import AutomatedPlanFired, SegmentDefined, SegmentDeleted
from schemas.seller import (
    AppealDecided,
    AppealSubmitted,
    EvaluationDue,
    PermissionGranted,
    PermissionRevoked,
    SellerMetricsReported,
    SellerStatusChanged,
    ShopProfileUpdated,
)

CleanupPolicy = Literal["delete", "compact"]
Direction = Literal["in", "out", "internal"]

FOREVER = -1
_DAY_MS = 24 * 60 * 60 * 1000

# Every topic keyed by seller_id has the same partition count: the stream
# processors join them in tables keyed by seller_id, and faust needs the topics
# behind one table co-partitioned. 6 leaves room to scale workers out.
KEYED_PARTITIONS = 6
# A handful of ticks a month; one partition keeps them in order for the one
# worker that fans a tick out to the market's sellers.
TICK_PARTITIONS = 1
# The campaign calendar is tiny and read whole.
CAMPAIGN_PARTITIONS = 1
# Low volume, read by people while investigating.
LOW_VOLUME_PARTITIONS = 3


@dataclass(frozen=True)
class TopicSpec:
    """One Kafka topic; retention_ms -1 keeps records forever."""

    name: str
    key_field: str | None
    partitions: int
    cleanup_policy: CleanupPolicy
    retention_ms: int
    direction: Direction
    event_types: tuple[type[Event], ...]


_D = Field(discriminator="event_type")

SellerMetricsEvent = Annotated[SellerMetricsReported, _D]
ChatEngagementEvent = Annotated[MessageDelivered | MessageRead | MessageClicked | MessageFailed, _D]
ShopBlockEvent = Annotated[ShopBlocked | ShopUnblocked, _D]
CustomerActivityEvent = Annotated[
    ShopFollowed
    | ShopUnfollowed
    | ProductViewed
    | CartAdded
    | OrderPlaced
    | ChatStarted
    | CouponClaimed,
    _D,
]
CustomerProfileEvent = Annotated[CustomerProfileUpdated, _D]
SellerAccountEvent = Annotated[PermissionGranted | PermissionRevoked | ShopProfileUpdated, _D]
CampaignEvent = Annotated[CampaignAnnounced, _D]
EvaluationTickEvent = Annotated[EvaluationDue, _D]
AppealEvent = Annotated[AppealSubmitted | AppealDecided, _D]
SellerStatusEvent = Annotated[SellerStatusChanged, _D]
PlanCommand = Annotated[
    CreatePlan | EditPlan | DeletePlan | SubmitPlan | CancelPlan | CompletePlan, _D
]
PlanEvent = Annotated[
    PlanCreated
    | PlanEdited
    | PlanDeleted
    | PlanScheduled
    | PlanDispatched
    | PlanStarted
    | PlanEnded
    | PlanCompleted
    | PlanShardCompleted
    | PlanCancelled
    | PlanRejected,
    _D,
]
PlanReply = Annotated[PlanCommandAnswered, _D]
QuotaLedgerEvent = Annotated[
    QuotaReserved | QuotaReleased | CampaignQuotaReserved | CampaignQuotaReleased, _D
]
SegmentEvent = Annotated[SegmentDefined | SegmentDeleted, _D]
PlanFiringEvent = Annotated[AutomatedPlanFired, _D]
OutboundMessageEvent = Annotated[OutboundMessage, _D]
DeliveryProgressEvent = Annotated[DeliveryProgressed, _D]
DeliveryShardEvent = Annotated[PlanShardAssigned, _D]
DeadLetterEvent = Annotated[DeadLetter, _D]
RedriveEvent = Annotated[DeadLetterRedriven, _D]

AnyEvent = Annotated[
    SellerMetricsReported
    | MessageDelivered
    | MessageRead
    | MessageClicked
    | MessageFailed
    | ShopBlocked
    | ShopUnblocked
    | ShopFollowed
    | ShopUnfollowed
    | ProductViewed
    | CartAdded
    | OrderPlaced
    | ChatStarted
    | CouponClaimed
    | CustomerProfileUpdated
    | PermissionGranted
    | PermissionRevoked
    | ShopProfileUpdated
    | CampaignAnnounced
    | EvaluationDue
    | AppealSubmitted
    | AppealDecided
    | SellerStatusChanged
    | CreatePlan
    | EditPlan
    | DeletePlan
    | SubmitPlan
    | CancelPlan
    | CompletePlan
    | PlanCreated
    | PlanEdited
    | PlanDeleted
    | PlanScheduled
    | PlanDispatched
    | PlanStarted
    | PlanEnded
    | PlanCompleted
    | PlanShardCompleted
    | PlanCancelled
    | PlanRejected
    | PlanCommandAnswered
    | QuotaReserved
    | QuotaReleased
    | CampaignQuotaReserved
    | CampaignQuotaReleased
    | SegmentDefined
    | SegmentDeleted
    | AutomatedPlanFired
    | OutboundMessage
    | DeliveryProgressed
    | PlanShardAssigned
    | DeadLetter
    | DeadLetterRedriven,
    _D,
]

# Topic name -> the discriminated union of its values.
_UNIONS: dict[str, Any] = {
    "crm.seller-metrics": SellerMetricsEvent,
    "crm.chat-engagement": ChatEngagementEvent,
    "crm.shop-blocks": ShopBlockEvent,
    "crm.customer-activity": CustomerActivityEvent,
    "crm.customer-profiles": CustomerProfileEvent,
    "crm.seller-accounts": SellerAccountEvent,
    "crm.campaigns": CampaignEvent,
    "crm.evaluation-ticks": EvaluationTickEvent,
    "crm.appeals": AppealEvent,
    "crm.seller-status": SellerStatusEvent,
    "crm.plan-commands": PlanCommand,
    "crm.plan-events": PlanEvent,
    "crm.plan-replies": PlanReply,
    "crm.quota-ledger": QuotaLedgerEvent,
    "crm.segments": SegmentEvent,
    "crm.plan-firings": PlanFiringEvent,
    "crm.outbound-messages": OutboundMessageEvent,
    "crm.delivery-progress": DeliveryProgressEvent,
    "crm.delivery-shards": DeliveryShardEvent,
    "crm.dead-letters": DeadLetterEvent,
    "crm.dead-letter-redrives": RedriveEvent,
}


def _members(name: str) -> tuple[type[Event], ...]:
    union = _UNIONS.get(name)
    if union is None:
        return ()
    inner = get_args(union)[0]
    return get_args(inner) or (inner,)


def _spec(
    name: str,
    direction: Direction,
    *,
    key_field: str | None = "seller_id",
    partitions: int = KEYED_PARTITIONS,
    cleanup_policy: CleanupPolicy = "delete",
    retention_ms: int = FOREVER,
) -> TopicSpec:
    return TopicSpec(
        name, key_field, partitions, cleanup_policy, retention_ms, direction, _members(name)
    )


# Inputs, seller-status and the quota ledger are the source of truth and are
# kept forever; everything else can be rebuilt from them.
EVENT_TOPICS: tuple[TopicSpec, ...] = (
    _spec("crm.seller-metrics", "in"),
    _spec("crm.chat-engagement", "in"),
    _spec("crm.shop-blocks", "in"),
    _spec("crm.customer-activity", "in"),
    _spec("crm.customer-profiles", "in", key_field="customer_id", cleanup_policy="compact"),
    _spec("crm.seller-accounts", "in"),
    # The campaign calendar: a few records a month, read whole by outreach; one
    # partition keeps every announcement of a campaign in order.
    _spec("crm.campaigns", "in", key_field="campaign_id", partitions=CAMPAIGN_PARTITIONS),
    _spec("crm.evaluation-ticks", "in", key_field="market", partitions=TICK_PARTITIONS),
    _spec("crm.appeals", "in"),
    _spec("crm.seller-status", "out", cleanup_policy="compact"),
    _spec("crm.plan-commands", "internal"),
    _spec("crm.plan-events", "out"),
    # Not in SPEC section 6: the processor's answers to the API's commands. Every API
    # process reads all of it from its end; an answer matters for seconds.
    _spec("crm.plan-replies", "internal", retention_ms=_DAY_MS),
    _spec("crm.quota-ledger", "out"),
    # Not in SPEC section 6: custom segment definitions (the API writes, the customers
    # projection reads) and automated plans firing for one customer (the customers
    # worker writes in transactions, delivery reads). Both are sources of truth.
    _spec("crm.segments", "internal"),
    _spec("crm.plan-firings", "internal"),
    # The chat system consumes it within seconds; 90 days answer support questions.
    _spec("crm.outbound-messages", "out", key_field="customer_id", retention_ms=90 * _DAY_MS),
    # Not in SPEC section 6: each plan's fan-out checkpoint and counts, written by
    # delivery in the transactions that send its messages. Compacted: the latest
    # record of a plan is all of it.
    # A sharded plan's records are keyed "<plan_id>/<shard>" (`record_key`), so that
    # compaction keeps each shard's latest, and all go to plan_id's partition.
    _spec("crm.delivery-progress", "internal", key_field="plan_id", cleanup_policy="compact"),
    # Not in SPEC section 6: a big dispatched plan's recipients split into shards, shard i
    # on partition i (key plan_id), written with the dispatch's offset; each shard is
    # fanned out by its partition's delivery process. As many partitions as plan-events.
    _spec("crm.delivery-shards", "internal", key_field="plan_id"),
    _spec(
        "crm.dead-letters",
        "out",
        key_field=None,
        partitions=LOW_VOLUME_PARTITIONS,
        retention_ms=30 * _DAY_MS,
    ),
    # Not in SPEC section 6: each dead letter re-driven, keyed by its id and written in
    # the transaction that re-sends it; compacted, so it says once and for all "done".
    _spec(
        "crm.dead-letter-redrives",
        "internal",
        key_field="dead_letter_id",
        partitions=LOW_VOLUME_PARTITIONS,
        cleanup_policy="compact",
    ),
)

# Not events: the eligibility worker's own topics. They are in the registry so that
# `crm dev up` and the worker create them before it consumes: a consumer subscribed to a
# topic that does not exist yet finds it only at its next metadata refresh
# (metadata.max.age.ms, 5 minutes), and until then reads nothing.
# The broker's default retention.
_WEEK_MS = 7 * _DAY_MS

INTERNAL_TOPICS: tuple[TopicSpec, ...] = (
    # One EvaluatePartition command per partition for each accepted tick; read at once.
    _spec("crm.eligibility-evaluations", "internal", key_field=None, retention_ms=_WEEK_MS),
    # The worker's state changelog, written in the same transaction as its statuses and
    # offsets; compacted (latest row per key), co-partitioned with the inputs it folds.
    _spec("crm.eligibility-state", "internal", key_field=None, cleanup_policy="compact"),
)
# Every topic: what `crm dev up` and `crm topics create` create.
ALL_TOPICS: tuple[TopicSpec, ...] = EVENT_TOPICS + INTERNAL_TOPICS

_BY_NAME = {spec.name: spec for spec in ALL_TOPICS}
_BY_EVENT_TYPE = {cls.__name__: spec for spec in ALL_TOPICS for cls in spec.event_types}
_ADAPTERS: dict[str, TypeAdapter[Event]] = {
    name: TypeAdapter[Event](union) for name, union in _UNIONS.items()
}

ANY_EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter[Event](AnyEvent)


def topic(name: str) -> TopicSpec:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown topic {name!r}; known topics: {', '.join(_BY_NAME)}") from None


def topic_of(event_type: str) -> TopicSpec:
    """The topic that carries events of this type (by its `event_type` name)."""
    try:
        return _BY_EVENT_TYPE[event_type]
    except KeyError:
        raise KeyError(
            f"unknown event type {event_type!r}; known types: {', '.join(_BY_EVENT_TYPE)}"
        ) from None


def adapter_for(topic_name: str) -> TypeAdapter[Event]:
    """Validates the values of one topic: only that topic's event types pass."""
    spec = topic(topic_name)
    try:
        return _ADAPTERS[spec.name]
    except KeyError:
        raise KeyError(f"topic {topic_name!r} has no event schemas yet") from None


def record_key(event: Event, key_field: str) -> object:
    """The key a record of the event carries: its key field's value, but for one shard
    of a sharded plan's progress, "<plan_id>/<shard>" (`DeliveryProgressed.progress_key`)."""
    if isinstance(event, DeliveryProgressed):
        return event.progress_key
    return getattr(event, key_field, None)


def key_of(event: Event) -> str | None:
    """The Kafka key of an event: the value of its topic's key field."""
    key_field = topic_of(event.event_type).key_field
    if key_field is None:
        return None
    value = record_key(event, key_field)
    if not isinstance(value, str):
        raise TypeError(f"key field {key_field} of {event.event_type} is not a string")
    return value


def event_classes() -> dict[str, type[Event]]:
    """Every event class by its event_type name."""
    return {cls.__name__: cls for spec in ALL_TOPICS for cls in spec.event_types}
