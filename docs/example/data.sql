-- The guide's warehouse: small enough that every expected row in tests.yaml is checked by hand.
CREATE TABLE area (area_id INTEGER PRIMARY KEY, name VARCHAR);
INSERT INTO area VALUES (1, 'Sarajevo'), (2, 'Zenica');

CREATE TABLE customer (customer_id INTEGER PRIMARY KEY, name VARCHAR, customer_type VARCHAR,
                       area_id INTEGER);
INSERT INTO customer VALUES (1, 'Amra', 'Household', 1), (2, 'Bakir', 'Household', 1),
                            (3, 'Cazim d.o.o.', 'Commercial', 2);

CREATE TABLE calendar (date DATE PRIMARY KEY, year INTEGER, quarter INTEGER, year_month VARCHAR);
INSERT INTO calendar VALUES ('2025-01-01', 2025, 1, '2025-01'), ('2025-02-01', 2025, 1, '2025-02'),
                            ('2025-04-01', 2025, 2, '2025-04');

CREATE TABLE invoice (invoice_id INTEGER PRIMARY KEY, customer_id INTEGER, period DATE,
                      billed DECIMAL(10, 2), paid DECIMAL(10, 2));
INSERT INTO invoice VALUES (1, 1, '2025-01-01', 10, 10), (2, 1, '2025-02-01', 20, 0),
                           (3, 2, '2025-01-01', 30, 30), (4, 3, '2025-04-01', 100, 50);

-- The same invoices summed by month and area: what an aggregate source holds.
CREATE TABLE invoice_month (period DATE, area_id INTEGER, billed DECIMAL(10, 2),
                            paid DECIMAL(10, 2), invoices INTEGER);
INSERT INTO invoice_month VALUES ('2025-01-01', 1, 40, 40, 2), ('2025-02-01', 1, 20, 0, 1),
                                 ('2025-04-01', 2, 100, 50, 1);

CREATE TABLE subscription (subscription_id INTEGER PRIMARY KEY, customer_id INTEGER,
                           service VARCHAR);
INSERT INTO subscription VALUES (1, 1, 'e-bill'), (2, 3, 'e-bill'), (3, 3, 'sms-bill');
