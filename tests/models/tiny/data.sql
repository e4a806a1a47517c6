-- Small enough to check every answer by hand.
CREATE TABLE area (area_id INTEGER PRIMARY KEY, name VARCHAR);
INSERT INTO area VALUES (1, 'Sarajevo'), (2, 'Zenica'), (3, 'Tuzla');   -- Tuzla has no customers

CREATE TABLE customer (customer_id INTEGER PRIMARY KEY, name VARCHAR, customer_type VARCHAR,
                       area_id INTEGER);
INSERT INTO customer VALUES
  (1, 'Amra', 'Household', 1),
  (2, 'Bakir', 'Household', 1),
  (3, 'Cazim d.o.o.', 'Commercial', 2),
  (4, 'Dina', 'Household', NULL);                                        -- unknown area

CREATE TABLE invoice (invoice_id INTEGER PRIMARY KEY, customer_id INTEGER, month VARCHAR,
                      kwh INTEGER, billed DECIMAL(10, 2), paid DECIMAL(10, 2));
INSERT INTO invoice VALUES
  (1, 1, '2025-01', 100,  10.00,  10.00),
  (2, 1, '2025-02', 200,  20.00,   0.00),
  (3, 2, '2025-01', 300,  30.00,  30.00),
  (4, 3, '2025-01', 1000, 100.00, 50.00),
  (5, 4, '2025-01', 50,    5.00,   5.00);

CREATE TABLE service (service_id INTEGER PRIMARY KEY, code VARCHAR);
INSERT INTO service VALUES (1, 'e-bill'), (2, 'sms-bill'), (3, 'e-payment');

CREATE TABLE subscription (subscription_id INTEGER PRIMARY KEY, customer_id INTEGER,
                           service_id INTEGER);
INSERT INTO subscription VALUES (1, 1, 1), (2, 2, 1), (3, 2, 2), (4, 3, 3), (5, 4, 1),
  (6, NULL, 1),                                                          -- no customer
  (7, 99, 2),                                                            -- unknown customer
  (8, 3, NULL);                                                          -- no service
