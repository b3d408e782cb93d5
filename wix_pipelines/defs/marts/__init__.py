"""Derived assets (group `wix_marts`) and the sensor that keeps them up to date."""

from .assets import MARTS_GROUP, mart_assets, mart_sensors, marts_automation_sensor

__all__ = ["MARTS_GROUP", "mart_assets", "mart_sensors", "marts_automation_sensor"]
