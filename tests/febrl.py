"""The import mapping the FEBRL tests share: FEBRL's columns onto the customer model."""

from __future__ import annotations

from customers import parse_mapping


def febrl_mapping(source: str):
    """FEBRL (3 or 4) mapped for the source `source`; soc_sec_id deliberately left out."""
    return parse_mapping(
        {
            "name": source,
            "source": source,
            "fields": {
                "source_key": "rec_id",
                "first_name": "given_name",
                "last_name": "surname",
                "house_number": "street_number",
                "street": "address_1",
                "city": "suburb",
                "postal_code": "postcode",
                "area": "state",
                # FEBRL's typos make some dates impossible (month 13): keep the row, drop the date.
                "date_of_birth": {
                    "column": "date_of_birth",
                    "transforms": ["date:%Y%m%d"],
                    "on_error": "null",
                },
                # soc_sec_id is not mapped: customer files rarely have a national id.
            },
        }
    )
