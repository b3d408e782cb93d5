"""Low-rating alert delivery: the job (op in the warehouse pool), its sensor and the alerts resource."""

from .jobs import DELIVERY_JOB_NAME, deliver_low_rating_alerts_job, deliver_low_rating_alerts_op
from .resources import AlertsResource, alerts_from_env
from .sensors import low_rating_alerts_sensor

alert_jobs = [deliver_low_rating_alerts_job]
alert_sensors = [low_rating_alerts_sensor]

__all__ = [
    "DELIVERY_JOB_NAME",
    "AlertsResource",
    "alert_jobs",
    "alert_sensors",
    "alerts_from_env",
    "deliver_low_rating_alerts_job",
    "deliver_low_rating_alerts_op",
    "low_rating_alerts_sensor",
]
