"""The benchmark's questions: Logical SQL for the demo model beside an analyst's hand SQL.

The hand SQL is written from models/demo/*.yaml against the physical tables, not copied
from the engine's output. Where the engine's semantics matter for the answer, the hand
SQL keeps them: fact rows reach their dimensions through LEFT JOINs, so customers with
a NULL municipality_id show up as a NULL Distribution Area group, as they do in Strata.

>>> len({q.name for q in QUESTIONS}) == len(QUESTIONS)
True
>>> [q.name for q in QUESTIONS if q.ordered]
['top-10-customers']
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Question:
    name: str
    subject_area: str
    logical_sql: str
    hand_sql: str
    ordered: bool  # True: rows must come back in the same order, not just as the same set


QUESTIONS: tuple[Question, ...] = (
    Question(
        name="seed-sarajevo-e-bill",
        subject_area="Campaigns",
        logical_sql="""
            SELECT "Customer"."Customer Id", "Customer"."Customer Name", "Contact"."Email"
            FROM "Campaigns"
            WHERE "Customer"."Customer Type" = 'Household'
              AND "Customer"."Distribution Area" = 'Sarajevo'
              AND "E-Services"."Service" = 'e-bill'
        """,
        # The filter on area.name drops NULL areas anyway, so these joins may be inner.
        # Any e-bill subscription counts, ended or not: the request does not ask.
        hand_sql="""
            SELECT c.customer_id, c.name, ct.email
            FROM customer c
            JOIN municipality m ON m.municipality_id = c.municipality_id
            JOIN area a ON a.area_id = m.area_id
            LEFT JOIN contact ct ON ct.customer_id = c.customer_id
            WHERE c.customer_type = 'Household'
              AND a.name = 'Sarajevo'
              AND EXISTS (
                  SELECT 1
                  FROM subscription s
                  JOIN e_service e ON e.service_id = s.service_id
                  WHERE s.customer_id = c.customer_id AND e.code = 'e-bill')
        """,
        ordered=False,
    ),
    Question(
        name="customers-and-billed-by-area",
        subject_area="Campaigns",
        logical_sql="""
            SELECT "Customer"."Distribution Area", "Facts"."# Customers", "Facts"."Billed Amount"
            FROM "Campaigns"
        """,
        # Invoices are summed per customer first, so the customer table is read once and
        # the two facts cannot multiply each other.
        hand_sql="""
            WITH billed AS (
                SELECT customer_id, sum(billed_amount) AS billed_amount
                FROM invoice
                GROUP BY customer_id)
            SELECT a.name, count(*), sum(b.billed_amount)
            FROM customer c
            LEFT JOIN municipality m ON m.municipality_id = c.municipality_id
            LEFT JOIN area a ON a.area_id = m.area_id
            LEFT JOIN billed b ON b.customer_id = c.customer_id
            GROUP BY a.name
        """,
        ordered=False,
    ),
    Question(
        name="billing-by-month",
        subject_area="Billing",
        logical_sql="""
            SELECT "Time"."Year", "Time"."Month", "Facts"."Billed Amount",
                   "Facts"."Consumption (kWh)", "Facts"."Collection Rate"
            FROM "Billing"
        """,
        hand_sql="""
            SELECT cal.year, cal.year_month, sum(i.billed_amount), sum(i.kwh),
                   sum(i.paid_amount) / sum(i.billed_amount)
            FROM invoice i
            LEFT JOIN calendar cal ON cal.date = i.period
            GROUP BY cal.year, cal.year_month
        """,
        ordered=False,
    ),
    Question(
        name="billed-customers-by-tariff",
        subject_area="Billing",
        logical_sql="""
            SELECT "Customer"."Tariff Group", "Customer"."Customer Type",
                   "Facts"."# Billed Customers", "Facts"."Average Bill"
            FROM "Billing"
        """,
        hand_sql="""
            SELECT t.name, c.customer_type, count(DISTINCT i.customer_id),
                   sum(i.billed_amount) / count(*)
            FROM invoice i
            LEFT JOIN customer c ON c.customer_id = i.customer_id
            LEFT JOIN tariff_group t ON t.tariff_group_id = c.tariff_group_id
            GROUP BY t.name, c.customer_type
        """,
        ordered=False,
    ),
    Question(
        name="top-10-customers",
        subject_area="Billing",
        # Customer Id breaks ties, so "the same order" has one meaning.
        logical_sql="""
            SELECT "Customer"."Customer Id", "Customer"."Customer Name", "Facts"."Billed Amount"
            FROM "Billing"
            ORDER BY "Facts"."Billed Amount" DESC, "Customer"."Customer Id"
            FETCH FIRST 10 ROWS ONLY
        """,
        # Rank on the invoice table alone, then look up ten names.
        hand_sql="""
            WITH top AS (
                SELECT customer_id, sum(billed_amount) AS billed_amount
                FROM invoice
                GROUP BY customer_id
                ORDER BY billed_amount DESC, customer_id
                LIMIT 10)
            SELECT c.customer_id, c.name, t.billed_amount
            FROM top t
            LEFT JOIN customer c ON c.customer_id = t.customer_id
            ORDER BY t.billed_amount DESC, t.customer_id
        """,
        ordered=True,
    ),
    Question(
        name="active-subscriptions-by-service-area",
        subject_area="Campaigns",
        logical_sql="""
            SELECT "E-Services"."Service", "Customer"."Distribution Area",
                   "Facts"."# Active Subscriptions"
            FROM "Campaigns"
        """,
        hand_sql="""
            SELECT e.code, a.name, count(*) FILTER (WHERE s.end_date IS NULL)
            FROM subscription s
            LEFT JOIN e_service e ON e.service_id = s.service_id
            LEFT JOIN customer c ON c.customer_id = s.customer_id
            LEFT JOIN municipality m ON m.municipality_id = c.municipality_id
            LEFT JOIN area a ON a.area_id = m.area_id
            GROUP BY e.code, a.name
        """,
        ordered=False,
    ),
    Question(
        name="customer-type-by-service",
        subject_area="Campaigns",
        # Dimension only: the combinations that some subscription relates.
        logical_sql="""
            SELECT "Customer"."Customer Type", "E-Services"."Service"
            FROM "Campaigns"
        """,
        hand_sql="""
            SELECT DISTINCT c.customer_type, e.code
            FROM subscription s
            LEFT JOIN customer c ON c.customer_id = s.customer_id
            LEFT JOIN e_service e ON e.service_id = s.service_id
        """,
        ordered=False,
    ),
)
