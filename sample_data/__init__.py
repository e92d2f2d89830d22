"""Seeded sample data: a realistic case history with planted incidents and their ground truth."""

from sample_data.generate import (
    CHANNELS,
    LANGUAGES,
    VENDOR_SITES,
    WORKFLOWS,
    SampleConfig,
    VendorSite,
    expected_total_cases,
    generate_cases,
    holidays,
    incidents,
)

__all__ = [
    "CHANNELS",
    "LANGUAGES",
    "VENDOR_SITES",
    "WORKFLOWS",
    "SampleConfig",
    "VendorSite",
    "expected_total_cases",
    "generate_cases",
    "holidays",
    "incidents",
]
