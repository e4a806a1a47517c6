"""Build the deterministic demo warehouse: a Bosnian electricity utility in one DuckDB file.

Every value comes from DuckDB SQL over ``range()``. Each random choice is
``hash(seed, row key, 'purpose')``, never ``random()``: ``setseed`` is not reproducible
once DuckDB runs a query on several threads, while a hash of the row's own key is the
same whichever thread computes it. So one seed and one customer count always give the
same rows, on any machine with the same DuckDB version.
"""

from __future__ import annotations

import operator
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

# Bump whenever the generated data changes, so that older files get rebuilt.
GENERATOR_VERSION = "4"  # 3: monthly invoice aggregate; 4: month-end receivables


@dataclass(frozen=True)
class DemoBuild:
    path: Path
    customers: int
    seed: int
    rebuilt: bool  # False when an up-to-date file was already there
    seconds: float


def build_demo(path: Path, customers: int = 50_000, seed: int = 42) -> DemoBuild:
    """Build (or reuse) the demo warehouse at ``path`` and say what happened.

    The file is written beside ``path`` under a temporary name and moved into place
    only when complete, so ``path`` never holds a half-built warehouse. A file whose
    ``meta`` table already records the same customers, seed and generator version is
    left untouched.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     first = build_demo(Path(tmp) / "demo.duckdb", customers=500)
        ...     again = build_demo(first.path, customers=500)
        ...     with duckdb.connect(str(first.path), read_only=True) as con:
        ...         areas = con.execute("SELECT count(*) FROM area").fetchone()[0]
        >>> (first.rebuilt, again.rebuilt, areas)
        (True, False, 5)

    Args:
        path: where the DuckDB file should end up; parent directories are created.
        customers: number of customers (1 or more); invoices are about 22 per customer.
        seed: any integer; the same seed and customer count give identical data.

    Returns:
        A DemoBuild with ``rebuilt=False`` when an up-to-date file was already there.
    """
    started = time.perf_counter()
    path = Path(path)
    customers, seed = operator.index(customers), operator.index(seed)  # no silent 2.5 -> 2
    if customers < 1:
        raise ValueError(f"customers must be at least 1, got {customers}")
    if not _is_current(path, customers, seed):
        path.parent.mkdir(parents=True, exist_ok=True)
        _build_atomically(path, customers, seed)
        rebuilt = True
    else:
        rebuilt = False
    return DemoBuild(path, customers, seed, rebuilt, time.perf_counter() - started)


def _expected_meta(customers: int, seed: int) -> dict[str, str]:
    return {
        "customers": str(customers),
        "seed": str(seed),
        "generator_version": GENERATOR_VERSION,
    }


def _is_current(path: Path, customers: int, seed: int) -> bool:
    return _meta(path) == _expected_meta(customers, seed)


def _meta(path: Path) -> dict[str, str] | None:
    if not path.is_file():
        return None
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            return dict(con.execute("SELECT key, value FROM meta").fetchall())
    except duckdb.Error:
        # Not a DuckDB file, no meta table, or locked by a writer: rebuild.
        return None


def refresh_demo(path: Path) -> DemoBuild:
    """Build the demo if it is missing, or rebuild it with its own customer count and seed if
    an older generator wrote it (a newer Strata's model needs the newer tables).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     first = build_demo(Path(tmp) / "demo.duckdb", customers=300, seed=5)
    ...     again = refresh_demo(first.path)
    >>> (again.rebuilt, again.customers, again.seed)
    (False, 300, 5)
    """
    meta = _meta(Path(path)) or {}
    try:
        return build_demo(path, int(meta["customers"]), int(meta["seed"]))
    except (KeyError, ValueError):
        return build_demo(path)


def _build_atomically(path: Path, customers: int, seed: int) -> None:
    # A unique name per attempt, so two concurrent builders never share a temp file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        with duckdb.connect(str(tmp)) as con:
            con.execute("SET enable_progress_bar = false")  # keep callers' output clean
            _generate(con, customers, seed)
            con.execute("CHECKPOINT")
        # A WAL left by a crashed writer of the old file would be replayed onto the
        # new one, so it goes first.
        _unlink(Path(f"{path}.wal"))
        os.replace(tmp, path)
    finally:
        _unlink(tmp)
        _unlink(Path(f"{tmp}.wal"))
        shutil.rmtree(f"{tmp}.tmp", ignore_errors=True)  # DuckDB's spill directory


def _unlink(path: Path) -> None:
    path.unlink(missing_ok=True)


def _generate(con: duckdb.DuckDBPyConnection, customers: int, seed: int) -> None:
    con.execute("SET VARIABLE strata_demo_seed = $seed::BIGINT", {"seed": seed})
    for sql in _MACROS:
        con.execute(sql)
    _load_reference_tables(con)
    params = {
        "customers": customers,
        "first_names": list(_FIRST_NAMES),
        "last_names": list(_LAST_NAMES),
        "company_words": [list(words) for words in _COMPANY_WORDS],
        "company_kinds": list(_COMPANY_KINDS),
        "mail_domains": list(_MAIL_DOMAINS),
        "streets": list(_STREETS),
    }
    for sql in _STATEMENTS:
        # DuckDB rejects named parameters that a statement does not use.
        used = {k: v for k, v in params.items() if f"${k}" in sql}
        con.execute(sql, used)
    con.executemany("INSERT INTO meta VALUES (?, ?)", list(_expected_meta(customers, seed).items()))


def _load_reference_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """
        CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR);
        CREATE TABLE area (area_id INTEGER PRIMARY KEY, name VARCHAR);
        CREATE TABLE municipality (
            municipality_id INTEGER PRIMARY KEY, area_id INTEGER, name VARCHAR,
            postal_code VARCHAR);
        CREATE TABLE tariff_group (
            tariff_group_id INTEGER PRIMARY KEY, name VARCHAR, customer_type VARCHAR);
        CREATE TABLE e_service (service_id INTEGER PRIMARY KEY, code VARCHAR, name VARCHAR);
        -- Which distribution areas each office's staff may see: the demo's init block reads it.
        CREATE TABLE staff (user_name VARCHAR, area_id INTEGER, PRIMARY KEY (user_name, area_id));
        INSERT INTO staff VALUES ('zenica.office', 2), ('sarajevo.office', 1);
        CREATE TEMP TABLE _municipality_weight (municipality_id INTEGER, weight INTEGER);
        CREATE TEMP TABLE _tariff (
            tariff_group_id INTEGER, share DOUBLE, price DECIMAL(6, 4), fee DECIMAL(8, 2),
            kwh_low INTEGER, kwh_high INTEGER, seasonality DOUBLE);
        CREATE TEMP TABLE _service_rate (service_id INTEGER, share DOUBLE);
        """
    )
    con.executemany("INSERT INTO area VALUES (?, ?)", list(enumerate(_AREAS, start=1)))
    con.executemany(
        "INSERT INTO municipality VALUES (?, ?, ?, ?)",
        [(i, area, name, postal) for i, (area, name, postal, _) in enumerate(_MUNICIPALITIES, 1)],
    )
    con.executemany(
        "INSERT INTO _municipality_weight VALUES (?, ?)",
        [(i, weight) for i, (*_, weight) in enumerate(_MUNICIPALITIES, 1)],
    )
    con.executemany(
        "INSERT INTO tariff_group VALUES (?, ?, ?)",
        [(i, t[0], t[1]) for i, t in enumerate(_TARIFFS, 1)],
    )
    con.executemany(
        "INSERT INTO _tariff VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(i, *t[2:]) for i, t in enumerate(_TARIFFS, 1)],
    )
    con.executemany(
        "INSERT INTO e_service VALUES (?, ?, ?)",
        [(i, code, name) for i, (code, name, _) in enumerate(_SERVICES, 1)],
    )
    con.executemany(
        "INSERT INTO _service_rate VALUES (?, ?)",
        [(i, share) for i, (*_, share) in enumerate(_SERVICES, 1)],
    )


# ---------------------------------------------------------------------------
# Reference data. Shares and weights are plausible, not official statistics.

_AREAS = ("Sarajevo", "Zenica", "Tuzla", "Mostar", "Bihać")

# (area_id, name, postal code, weight); weights are roughly population in thousands,
# which makes Sarajevo the biggest area.
_MUNICIPALITIES = (
    (1, "Centar", "71000", 55),
    (1, "Novi Grad", "71000", 118),
    (1, "Novo Sarajevo", "71000", 64),
    (1, "Stari Grad", "71000", 36),
    (1, "Ilidža", "71210", 67),
    (1, "Vogošća", "71320", 27),
    (2, "Zenica", "72000", 110),
    (2, "Kakanj", "72240", 37),
    (2, "Visoko", "71300", 40),
    (2, "Zavidovići", "72220", 35),
    (2, "Žepče", "72230", 30),
    (3, "Tuzla", "75000", 110),
    (3, "Lukavac", "75300", 45),
    (3, "Živinice", "75270", 57),
    (3, "Gračanica", "75320", 45),
    (3, "Srebrenik", "75350", 40),
    (4, "Mostar", "88000", 105),
    (4, "Čapljina", "88300", 26),
    (4, "Konjic", "88400", 25),
    (4, "Jablanica", "88420", 10),
    (5, "Bihać", "77000", 56),
    (5, "Cazin", "77220", 66),
    (5, "Velika Kladuša", "77230", 40),
    (5, "Bosanska Krupa", "77240", 25),
    (5, "Sanski Most", "79260", 41),
)

# (name, customer type, share within the type, KM per kWh, monthly fee KM,
#  monthly kWh low..high before seasonality, seasonal amplitude)
_TARIFFS = (
    ("Household single-rate", "Household", 0.70, 0.1700, 4.50, 180, 440, 0.25),
    ("Household two-rate", "Household", 0.30, 0.1500, 6.20, 220, 480, 0.25),
    ("Commercial 0.4 kV", "Commercial", 0.80, 0.2100, 25.00, 800, 9_000, 0.10),
    ("Commercial 10 kV", "Commercial", 0.08, 0.1400, 180.00, 15_000, 120_000, 0.10),
    ("Public lighting", "Commercial", 0.12, 0.1900, 15.00, 1_500, 12_000, 0.30),
)

# (code, name, share of customers subscribed)
_SERVICES = (
    ("e-bill", "Electronic bill", 0.30),
    ("sms-bill", "Bill by SMS", 0.15),
    ("e-payment", "Online payment", 0.20),
)

# Name lists are packed by hand; one name per line would be 200 lines of noise.
# fmt: off
_FIRST_NAMES = (
    "Amra", "Lejla", "Selma", "Aida", "Merima", "Emina", "Jasmina", "Sanela", "Azra",
    "Dženana", "Šejla", "Nađa", "Ajla", "Belma", "Ana", "Marija", "Ivana", "Mirela",
    "Vesna", "Željka", "Snježana", "Đurđa", "Hana", "Naida", "Elma", "Adna", "Maja",
    "Emir", "Amer", "Adnan", "Haris", "Kenan", "Mirza", "Tarik", "Nedim", "Edin",
    "Senad", "Jasmin", "Damir", "Dženan", "Ćamil", "Šefik", "Muhamed", "Alen", "Nermin",
    "Ivan", "Marko", "Dragan", "Goran", "Zoran", "Nikola", "Željko", "Davor", "Đorđe",
    "Samir", "Elvir", "Armin", "Benjamin", "Faruk", "Vedran",
)

_LAST_NAMES = (
    "Hodžić", "Hadžić", "Kovačević", "Begić", "Mehmedović", "Delić", "Hasanović",
    "Ibrahimović", "Alić", "Šehić", "Babić", "Jukić", "Marić", "Petrović", "Jovanović",
    "Karić", "Softić", "Husić", "Čaušević", "Džeko", "Mujić", "Omerović", "Salihović",
    "Suljić", "Zukić", "Tahirović", "Pašić", "Ćosić", "Đapo", "Bešlagić", "Sarajlić",
    "Fazlić", "Halilović", "Imamović", "Kadić", "Lončarević", "Musić", "Nuhanović",
    "Osmanović", "Rizvanović", "Kurtović", "Bajrić", "Mešić", "Hrustić", "Lukić",
    "Vuković", "Topić", "Mustafić", "Selimović", "Đozić",
)

# Company names are "<word> <word> <kind>", e.g. "Bosna Trade d.o.o.".
_COMPANY_WORDS = (
    ("Bosna", "Una", "Drina", "Neretva", "Sana", "Vrbas", "Igman", "Bjelašnica",
     "Trebević", "Prenj", "Vlašić", "Miljacka", "Spreča", "Majevica", "Zmaj", "Stećak",
     "Hercegovina", "Krajina", "Posavina", "Čaršija"),
    ("Trade", "Metal", "Invest", "Commerce", "Gradnja", "Promet", "Drvo", "Energija",
     "Tekstil", "Farm", "Transport", "Market", "Print", "Tours", "Logistika", "Pekara",
     "Mljekara", "Auto", "Elektro", "Soft", "Beton", "Agro", "Hotel", "Pharm", "Plast"),
)
_COMPANY_KINDS = ("d.o.o.", "d.o.o.", "d.o.o.", "d.o.o.", "d.o.o.", "d.o.o.", "d.d.", "o.d.")

# Repeated entries weight the draw: about half of private mail is on gmail.com.
_MAIL_DOMAINS = (
    "gmail.com", "gmail.com", "gmail.com", "gmail.com", "gmail.com", "gmail.com",
    "gmail.com", "gmail.com", "gmail.com", "gmail.com", "hotmail.com", "hotmail.com",
    "hotmail.com", "hotmail.com", "bih.net.ba", "bih.net.ba", "bih.net.ba", "yahoo.com",
    "outlook.com", "epbih.ba",
)

_STREETS = (
    "Maršala Tita", "Ferhadija", "Zmaja od Bosne", "Kralja Tvrtka", "Branilaca grada",
    "Alipašina", "Titova", "Hamdije Kreševljakovića", "Safvet-bega Bašagića",
    "Bulevar Meše Selimovića", "Džemala Bijedića", "Hasana Kikića", "Obala Kulina bana",
    "Mehmed-paše Sokolovića", "Trg slobode", "Musala", "Bulevar narodne revolucije",
    "Fra Anđela Zvizdovića", "Gazi Husrev-begova", "Skenderija", "Patriotske lige",
    "Turalibegova", "Stupine", "Slatina", "Bosanska", "Hercegovačka", "Jablanička",
    "Krajiška", "Cazinska", "Sarajevska", "Tuzlanska", "Zenička", "Mostarska",
    "Ulica 5. korpusa", "Bihaćkih branilaca", "Kulina bana", "Kemala Kapetanovića",
    "Školska", "Mejdan", "Vrbanja",
)
# fmt: on


# ---------------------------------------------------------------------------
# SQL. Parameters ($customers, $first_names, ...) are bound by _generate; the seed is
# a session variable read by the temp macros, so no value is ever pasted into text.

_MACROS = (
    # A 64-bit hash of (seed, key, purpose). The purpose string keeps draws for
    # different choices independent. The outer hash matters: DuckDB combines the
    # arguments' hashes with a XOR, so without it two purposes would differ only by a
    # constant mask and, for example, the customer type would decide the status.
    """CREATE TEMP MACRO _h(k, purpose) AS
           hash(hash(getvariable('strata_demo_seed'), k, purpose))""",
    # Uniform in [0, 1) from the top 31 bits.
    """CREATE TEMP MACRO _u(k, purpose) AS
           (_h(k, purpose) >> 33)::BIGINT / 2147483648.0""",
    # An index into a DuckDB list, uniform over its elements.
    """CREATE TEMP MACRO _pick(items, k, purpose) AS
           items[1 + ((_h(k, purpose) >> 33)::BIGINT % len(items))]""",
    # Uniform in [0, 1) from 16 bits of an already computed hash; one hash per invoice
    # row then yields four independent draws, which keeps the big table cheap.
    """CREATE TEMP MACRO _bits(h, slot) AS
           ((h >> (16 * slot)) & 65535)::INTEGER / 65536.0""",
    # Lowercase ASCII for e-mail addresses: đ has no Unicode decomposition, so
    # strip_accents alone would keep it.
    """CREATE TEMP MACRO _ascii(s) AS
           strip_accents(replace(lower(s), 'đ', 'dj'))""",
)

_STATEMENTS = (
    # One bucket per unit of weight, so a uniform bucket number picks a municipality
    # in proportion to its weight through an equi-join.
    """
    CREATE TEMP TABLE _municipality_bucket AS
    SELECT (row_number() OVER (ORDER BY municipality_id, i) - 1)::INTEGER AS bucket,
           municipality_id
    FROM (SELECT municipality_id, unnest(range(weight)) AS i FROM _municipality_weight)
    """,
    # Every per-customer draw in one pass; later tables read these columns.
    """
    CREATE TEMP TABLE _draw AS
    SELECT range::INTEGER AS customer_id,
           _u(range, 'type') < 0.12 AS commercial,
           _u(range, 'tariff') AS u_tariff,
           _u(range, 'status') AS u_status,
           DATE '1995-01-01' + floor(_u(range, 'since') * 11595)::INTEGER AS customer_since,
           _u(range, 'closed') AS u_closed,
           CASE WHEN _u(range, 'no-municipality') >= 0.005
                THEN (_h(range, 'municipality') >> 33)::BIGINT
                     % (SELECT count(*) FROM _municipality_bucket) END AS bucket,
           _pick($first_names, range, 'first') AS first_name,
           _pick($last_names, range, 'last') AS last_name,
           _pick($company_words[1], range, 'company-1') || ' '
               || _pick($company_words[2], range, 'company-2') AS company,
           _pick($company_kinds, range, 'company-kind') AS company_kind,
           _pick($mail_domains, range, 'mail-domain') AS mail_domain,
           _pick(['.', '.', '_', ''], range, 'mail-separator') AS mail_separator,
           CASE WHEN _u(range, 'mail-number') < 0.45
                THEN (1 + (_h(range, 'mail-number-value') >> 33)::BIGINT % 99)::VARCHAR
                ELSE '' END AS mail_number,
           _u(range, 'kwh') AS u_kwh
    FROM range(1, $customers + 1)
    """,
    """
    CREATE TEMP TABLE _customer AS
    WITH typed AS (
        SELECT d.*,
               CASE WHEN commercial THEN 'Commercial' ELSE 'Household' END AS customer_type,
               CASE WHEN u_status < 0.90 THEN 'Active'
                    WHEN u_status < 0.95 THEN 'Suspended'
                    ELSE 'Closed' END AS status
        FROM _draw d
    ),
    tariffed AS (
        -- Cumulative shares within the customer type turn one draw into a tariff.
        SELECT t.*, g.tariff_group_id
        FROM typed t
        JOIN (SELECT g.tariff_group_id, g.customer_type,
                     sum(r.share) OVER (PARTITION BY g.customer_type
                                        ORDER BY g.tariff_group_id) - r.share AS lo,
                     sum(r.share) OVER (PARTITION BY g.customer_type
                                        ORDER BY g.tariff_group_id) AS hi
              FROM tariff_group g JOIN _tariff r USING (tariff_group_id)) g
          ON g.customer_type = t.customer_type
         AND t.u_tariff >= g.lo
         AND (t.u_tariff < g.hi OR g.hi >= 0.999999)
    )
    SELECT t.customer_id, t.customer_type, t.tariff_group_id, t.status, t.customer_since,
           b.municipality_id,
           CASE WHEN t.commercial THEN t.company || ' ' || t.company_kind
                ELSE t.first_name || ' ' || t.last_name END AS name,
           -- Closures fall between 2022 and the end of the reference period, so some
           -- closed customers still have invoices before their closure month.
           CASE WHEN t.status = 'Closed' THEN
               greatest(t.customer_since, DATE '2022-01-01') + floor(t.u_closed * (
                   DATE '2026-10-31' - greatest(t.customer_since, DATE '2022-01-01')
               ))::INTEGER
           END AS closed_on,
           -- A company's contact person writes from its domain; people from a provider.
           CASE WHEN t.commercial THEN _ascii(t.first_name) || '.' || _ascii(t.last_name)
                ELSE _ascii(t.first_name) || t.mail_separator || _ascii(t.last_name)
                     || t.mail_number END AS mail_local,
           CASE WHEN t.commercial THEN replace(_ascii(t.company), ' ', '') || '.ba'
                ELSE t.mail_domain END AS mail_domain,
           t.u_kwh
    FROM tariffed t
    LEFT JOIN _municipality_bucket b ON b.bucket = t.bucket
    """,
    """
    CREATE TABLE customer (
        customer_id INTEGER PRIMARY KEY, customer_number VARCHAR, name VARCHAR,
        customer_type VARCHAR, tariff_group_id INTEGER, status VARCHAR,
        customer_since DATE, municipality_id INTEGER);
    INSERT INTO customer
    SELECT customer_id, 'EP-' || lpad(customer_id::VARCHAR, 7, '0'), name, customer_type,
           tariff_group_id, status, customer_since, municipality_id
    FROM _customer
    ORDER BY customer_id
    """,
    # Real providers refuse a taken address, so a clash gets a ".2", ".3" suffix; the
    # sharing quirk below is then the only source of shared addresses.
    """
    CREATE TEMP TABLE _mail AS
    SELECT customer_id,
           mail_local
               || CASE WHEN n > 1 THEN '.' || n::VARCHAR ELSE '' END AS mail_local,
           mail_domain
    FROM (SELECT customer_id, mail_local, mail_domain,
                 row_number() OVER (PARTITION BY mail_local, mail_domain
                                    ORDER BY customer_id) AS n
          FROM _customer)
    """,
    """
    CREATE TABLE contact (
        customer_id INTEGER PRIMARY KEY, email VARCHAR, mobile_phone VARCHAR,
        email_consent BOOLEAN, sms_consent BOOLEAN);
    INSERT INTO contact
    SELECT m.customer_id,
           CASE WHEN u < 0.07 THEN NULL
                -- Malformed: no '@', a double dot, or a trailing space.
                WHEN u < 0.08 THEN m.mail_local || m.mail_domain
                WHEN u < 0.09 THEN m.mail_local || '@' || replace(m.mail_domain, '.', '..')
                WHEN u < 0.10 THEN m.mail_local || '@' || m.mail_domain || ' '
                -- Shared: a family member or colleague gave the neighbour's address.
                WHEN u < 0.12 THEN n.mail_local || '@' || n.mail_domain
                ELSE m.mail_local || '@' || m.mail_domain
           END,
           CASE WHEN _u(m.customer_id, 'mobile') < 0.80
                THEN '+3876' || _pick(['1', '2', '3', '5', '6'], m.customer_id, 'operator')
                     || lpad(((_h(m.customer_id, 'phone') >> 33) % 1000000)::VARCHAR, 6, '0')
           END,
           -- Consent is recorded at signing, independent of whether the address or
           -- number on file still works, as in real CRMs.
           _u(m.customer_id, 'email-consent') < 0.70,
           _u(m.customer_id, 'sms-consent') < 0.50
    FROM (SELECT *, _u(customer_id, 'mail-quirk') AS u FROM _mail) m
    LEFT JOIN _mail n
      ON n.customer_id = CASE WHEN m.customer_id = 1 THEN 2 ELSE m.customer_id - 1 END
    ORDER BY m.customer_id
    """,
    """
    CREATE TABLE address (
        customer_id INTEGER PRIMARY KEY, street VARCHAR, house_number VARCHAR,
        postal_code VARCHAR, city VARCHAR);
    INSERT INTO address
    SELECT c.customer_id,
           _pick($streets, c.customer_id, 'street'),
           (1 + (_h(c.customer_id, 'house') >> 33) % 150)::VARCHAR
               || CASE WHEN _u(c.customer_id, 'house-letter') < 0.08 THEN 'a' ELSE '' END,
           m.postal_code,
           m.name
    FROM _customer c
    LEFT JOIN municipality m USING (municipality_id)
    ORDER BY c.customer_id
    """,
    # One candidate row per customer and service; the draw decides whether it exists.
    # Starts fall between max(customer_since, 2018-01-01) and the closure (or the end
    # of the reference period); closed customers' subscriptions all end.
    """
    CREATE TABLE subscription (
        subscription_id BIGINT PRIMARY KEY, customer_id INTEGER, service_id INTEGER,
        start_date DATE, end_date DATE);
    INSERT INTO subscription
    WITH candidate AS (
        SELECT c.customer_id, s.service_id, c.closed_on,
               greatest(c.customer_since, DATE '2018-01-01') AS earliest,
               coalesce(c.closed_on, DATE '2026-10-31') AS latest,
               c.customer_id * 4 + s.service_id AS k
        FROM _customer c CROSS JOIN _service_rate s
        WHERE _u(c.customer_id * 4 + s.service_id, 'subscribed') < s.share
    ),
    started AS (
        SELECT *, earliest + floor(_u(k, 'start') * (greatest(latest - earliest, 0) + 1)
                                  )::INTEGER AS start_date
        FROM candidate
    )
    SELECT row_number() OVER (ORDER BY customer_id, service_id),
           customer_id, service_id, start_date,
           CASE WHEN closed_on IS NOT NULL OR _u(k, 'ended') < 0.12
                THEN start_date + 1 + floor(_u(k, 'end') * greatest(latest - start_date, 0)
                                            )::INTEGER
           END
    FROM started
    ORDER BY customer_id, service_id
    """,
    """
    CREATE TABLE calendar (
        date DATE PRIMARY KEY, year INTEGER, quarter INTEGER, month INTEGER,
        month_name VARCHAR, year_month VARCHAR, day INTEGER);
    INSERT INTO calendar
    SELECT d, year(d), quarter(d), month(d), monthname(d), strftime(d, '%Y-%m'), day(d)
    FROM (SELECT range::DATE AS d
          FROM range(DATE '2015-01-01', DATE '2028-01-01', INTERVAL 1 DAY))
    ORDER BY d
    """,
    # Everything the invoice rows need per customer, so the big statement below is a
    # single customers x periods cross join with no further joins.
    """
    CREATE TEMP TABLE _billing AS
    SELECT c.customer_id,
           date_trunc('month', c.customer_since)::DATE AS first_period,
           date_trunc('month', c.closed_on)::DATE AS last_period,
           round(t.kwh_low + c.u_kwh * (t.kwh_high - t.kwh_low)) AS base_kwh,
           t.seasonality, t.price, t.fee,
           CASE c.status WHEN 'Suspended' THEN 0.35 ELSE 0.07 END AS unpaid_share,
           e.start_date AS epay_start,
           coalesce(e.end_date, DATE '9999-12-31') AS epay_end
    FROM _customer c
    JOIN _tariff t USING (tariff_group_id)
    LEFT JOIN subscription e ON e.customer_id = c.customer_id AND e.service_id = 3
    """,
    # invoice_id is (customer_id - 1) * 24 + period number + 1: unique by construction
    # and needs no sort over the biggest table. The primary key is added afterwards
    # (statement below): inserting into an indexed table nearly doubled the build time.
    """
    CREATE TABLE invoice AS
    WITH period AS (
        SELECT range::INTEGER AS n,
               (DATE '2024-11-01' + to_months(range::INTEGER))::DATE AS period,
               -- Winter peak: +1 in January, -1 in July.
               cos(2 * pi() * (month(DATE '2024-11-01' + to_months(range::INTEGER)) - 1)
                   / 12) AS winter
        FROM range(24)
    ),
    drawn AS (
        SELECT b.*, p.n, p.period, p.winter,
               p.period + 5 AS issue_date,
               _h(b.customer_id * 32 + p.n, 'invoice') AS h
        FROM _billing b CROSS JOIN period p
        WHERE p.period >= b.first_period
          AND (b.last_period IS NULL OR p.period <= b.last_period)
    ),
    billed AS (
        SELECT *,
               round(base_kwh * (1 + seasonality * winter) * (0.9 + 0.2 * _bits(h, 0))
                    )::INTEGER AS kwh,
               _bits(h, 1) AS u_paid,
               _bits(h, 2) AS u_channel,
               _bits(h, 3) AS u_day
        FROM drawn
    ),
    priced AS (
        SELECT *, (kwh * price + fee)::DECIMAL(12, 2) AS billed_amount,
               CASE WHEN u_paid < unpaid_share THEN 'unpaid'
                    WHEN u_paid < unpaid_share + 0.03 THEN 'partial'
                    ELSE 'paid' END AS state
        FROM billed
    )
    SELECT ((customer_id - 1)::BIGINT * 24 + n + 1) AS invoice_id,
           customer_id, period, issue_date, issue_date + 15 AS due_date, kwh,
           billed_amount,
           CASE state
               WHEN 'unpaid' THEN 0::DECIMAL(12, 2)
               -- The draw is uniform within the 'partial' band; rescale it to 20-80 %.
               WHEN 'partial' THEN (billed_amount * (0.2 + 0.6 * (u_paid - unpaid_share)
                                                     / 0.03)::DECIMAL(5, 4)
                                   )::DECIMAL(12, 2)
               ELSE billed_amount
           END::DECIMAL(12, 2) AS paid_amount,
           CASE WHEN state = 'unpaid' THEN NULL
                WHEN issue_date >= epay_start AND issue_date < epay_end
                     AND u_channel < 0.85 THEN 'e-payment'
                WHEN u_channel < 0.40 THEN 'bank'
                WHEN u_channel < 0.70 THEN 'post office'
                WHEN u_channel < 0.92 THEN 'cash desk'
                ELSE 'e-payment'
           END AS payment_channel,
           -- Most pay within the 15 days; about one in seven pays late, up to 75 days.
           CASE WHEN state = 'unpaid' THEN NULL
                WHEN u_day < 0.85 THEN issue_date + floor(u_day / 0.85 * 16)::INTEGER
                ELSE issue_date + 16 + floor((u_day - 0.85) / 0.15 * 60)::INTEGER
           END AS paid_date
    FROM priced
    """,
    # About 5 s of ~15 s at a million customers, and a third of the file size;
    # worth it, since it also proves the ids unique on every build.
    "ALTER TABLE invoice ADD PRIMARY KEY (invoice_id)",
    # The aggregate a nightly job would maintain: invoices by month, distribution area and
    # tariff group (about 5 x 6 x 24 rows instead of 22 per customer). Aggregate navigation
    # answers year, quarter, month, area and tariff questions from it.
    """
    CREATE TABLE agg_invoice_month AS
    SELECT i.period, m.area_id, c.tariff_group_id,
           SUM(i.billed_amount)::DECIMAL(18, 2) AS billed_amount,
           SUM(i.paid_amount)::DECIMAL(18, 2) AS paid_amount,
           SUM(i.kwh)::BIGINT AS kwh,
           COUNT(*)::BIGINT AS invoices
    FROM invoice i
    JOIN customer c ON c.customer_id = i.customer_id
    LEFT JOIN municipality m ON m.municipality_id = c.municipality_id
    GROUP BY i.period, m.area_id, c.tariff_group_id
    ORDER BY i.period, m.area_id, c.tariff_group_id
    """,
    # A month-end snapshot: what is still unpaid of everything invoiced so far, by area and
    # tariff group. It adds up over areas but not over months (a semi-additive measure).
    """
    CREATE TABLE receivable_month AS
    SELECT (period + INTERVAL 1 MONTH - INTERVAL 1 DAY)::DATE AS month_end, area_id,
           tariff_group_id,
           SUM(billed_amount - paid_amount) OVER (
               PARTITION BY area_id, tariff_group_id ORDER BY period
           )::DECIMAL(18, 2) AS open_balance
    FROM agg_invoice_month
    ORDER BY month_end, area_id, tariff_group_id
    """,
)
