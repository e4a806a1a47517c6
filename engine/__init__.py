"""Logical SQL in, results out: parse, resolve, plan, generate, execute.

>>> from engine import Engine
>>> eng = Engine.open("models/demo")
>>> print(eng.explain('SELECT "Time"."Year" FROM "Billing"', dialect="spark", pretty=True))
SELECT
  `f0`.`d0` AS `Year`
FROM (
  SELECT
    `calendar`.`year` AS `d0`
  FROM `calendar` AS `calendar`
  GROUP BY
    `calendar`.`year`
) AS `f0`
"""

from engine.api import Engine, Result
from engine.errors import LogicalSQLError

__all__ = ["Engine", "LogicalSQLError", "Result"]
