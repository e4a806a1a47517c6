-- Small enough to rank by hand. Billed per customer: 1 Ana 100, 2 Ben 80, 3 Cid 50,
-- 4 Dan 50, 5 Eve 50 (a three-way tie at places 3-5), 6 Fay 10, 7 Gus nothing.
-- North: Ben, Cid, Eve, Fay; South: Ana, Dan; Gus has no area.
CREATE TABLE area (area_id INTEGER PRIMARY KEY, name VARCHAR);
INSERT INTO area VALUES (1, 'North'), (2, 'South');

CREATE TABLE customer (customer_id INTEGER PRIMARY KEY, name VARCHAR, area_id INTEGER);
INSERT INTO customer VALUES
  (1, 'Ana', 2), (2, 'Ben', 1), (3, 'Cid', 1), (4, 'Dan', 2), (5, 'Eve', 1), (6, 'Fay', 1),
  (7, 'Gus', NULL);

CREATE TABLE invoice (invoice_id INTEGER PRIMARY KEY, customer_id INTEGER,
                      billed DECIMAL(10, 2));
INSERT INTO invoice VALUES
  (1, 1, 60.00), (2, 1, 40.00), (3, 2, 80.00), (4, 3, 50.00), (5, 4, 20.00), (6, 4, 30.00),
  (7, 5, 50.00), (8, 6, 10.00);

-- Payments keep no integrity: 98 and 99 are no customer's, and one has no customer at all.
-- The plain plan totals all three under one NULL customer (70), above Ana's 65.
CREATE TABLE payment (payment_id INTEGER PRIMARY KEY, customer_id INTEGER,
                      paid DECIMAL(10, 2));
INSERT INTO payment VALUES
  (1, 1, 65.00), (2, 2, 60.00), (3, 98, 30.00), (4, 99, 25.00), (5, NULL, 15.00),
  (6, 3, 5.00);
