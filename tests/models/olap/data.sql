-- Small enough to check every answer by hand: 5 customers, 12 invoices over 15 months.
CREATE TABLE area (area_id INTEGER PRIMARY KEY, name VARCHAR);
INSERT INTO area VALUES (1, 'North'), (2, 'South');

CREATE TABLE municipality (municipality_id INTEGER PRIMARY KEY, area_id INTEGER, name VARCHAR);
INSERT INTO municipality VALUES (10, 1, 'N-One'), (11, 1, 'N-Two'), (20, 2, 'S-One');

CREATE TABLE tariff_group (tariff_group_id INTEGER PRIMARY KEY, name VARCHAR,
                           customer_type VARCHAR);
INSERT INTO tariff_group VALUES (1, 'H1', 'Household'), (2, 'C1', 'Commercial');

CREATE TABLE customer (customer_id INTEGER PRIMARY KEY, name VARCHAR, municipality_id INTEGER,
                       tariff_group_id INTEGER);
INSERT INTO customer VALUES
  (1, 'Ana', 10, 1), (2, 'Ben', 10, 2), (3, 'Cid', 11, 1), (4, 'Dan', 20, 1),
  (5, 'Eve', NULL, 1);                                                    -- no municipality

CREATE TABLE calendar (date DATE PRIMARY KEY, year INTEGER, quarter VARCHAR,
                       year_month VARCHAR, month_name VARCHAR);
INSERT INTO calendar
SELECT d, year(d), year(d) || '-Q' || quarter(d), strftime(d, '%Y-%m'), monthname(d)
FROM (SELECT range::DATE AS d FROM range(DATE '2024-01-01', DATE '2026-01-01', INTERVAL 1 DAY));

CREATE TABLE invoice (invoice_id INTEGER PRIMARY KEY, customer_id INTEGER, issued DATE,
                      kwh INTEGER, billed DECIMAL(10, 2));
INSERT INTO invoice VALUES
  (1, 1, '2024-01-15', 100, 10.00),
  (2, 1, '2024-02-10', 200, 20.00),
  (3, 2, '2024-02-20',  50,  5.00),
  (4, 3, '2024-03-05', 300, 30.00),
  (5, 4, '2024-12-31', 400, 40.00),
  (6, 1, '2025-01-15', 110, 11.00),
  (7, 2, '2025-02-20',  60,  6.00),
  (8, 3, '2025-03-05', 330, 33.00),
  (9, 4, '2025-03-31', 440, 44.00),
  (10, 5, '2025-02-01', 70,  7.00),
  (11, 1, '2025-02-10', 210, 21.00),
  (12, 3, '2024-03-20', 100, 10.00);  -- Cid's second March bill: two in one aggregate row

-- The monthly aggregate by area and tariff group, as a nightly job would build it.
CREATE TABLE agg_invoice_month AS
SELECT date_trunc('month', i.issued)::DATE AS period, m.area_id, c.tariff_group_id,
       SUM(i.billed) AS billed, SUM(i.kwh) AS kwh, COUNT(*) AS invoices, MAX(i.billed) AS largest,
       MIN(i.billed) AS smallest
FROM invoice i JOIN customer c USING (customer_id)
LEFT JOIN municipality m USING (municipality_id)
GROUP BY ALL;

-- Month-end balances: a snapshot, so it adds up over customers but not over months.
CREATE TABLE balance (customer_id INTEGER, month_end DATE, amount DECIMAL(10, 2),
                      PRIMARY KEY (customer_id, month_end));
INSERT INTO balance VALUES
  (1, '2024-01-31', 100.00), (1, '2024-02-29', 120.00), (1, '2024-03-31', 90.00),
  (2, '2024-01-31',  50.00), (2, '2024-02-29',  60.00),                  -- no March row
  (4, '2024-03-31', 200.00),
  (3, '2025-01-31',  30.00);

-- The same invoices kept as two fragments, an archive (2024) and the current year (2025);
-- `sales` is every row, for requests that read the fact without its fragments.
CREATE TABLE sales_2024 AS SELECT * FROM invoice WHERE issued < DATE '2025-01-01';
CREATE TABLE sales_2025 AS SELECT * FROM invoice WHERE issued >= DATE '2025-01-01';
CREATE VIEW sales AS SELECT * FROM sales_2024 UNION ALL SELECT * FROM sales_2025;
