"""A deterministic demo programme: stores in Chinese cities, one staff account per role, members
with their consents and tags, and two years of purchases with per-member rhythms.

The same seed (and the same `now`) gives the same rows. Members are drafted in chunks and written
with raw SQL (executemany on SQLite, COPY on PostgreSQL) because the ORM's per-object cost would
turn a million members into an hour; memory stays bounded by the chunk size.
"""

from __future__ import annotations

import bisect
import copy
import datetime as dt
import itertools
import json
import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.contrib.auth import get_user_model
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import Model
from faker import Faker
from faker.providers.person.en_US import Provider as EnglishNames
from faker.providers.person.zh_CN import Provider as ChineseNames
from pypinyin import lazy_pinyin

from patron.core.context import Actor, acting_as
from patron.core.db import refresh_planner_statistics
from patron.core.permissions import Role
from patron.demo import ledger_rows
from patron.demo.analytics import AnalyticsStats, ensure_analytics
from patron.demo.rewards import RewardsStats, ensure_rewards
from patron.earning import queries as earning_queries
from patron.earning import services as earning_services
from patron.members import services
from patron.members.models import (
    ConsentRecord,
    Member,
    MemberTag,
    StaffProfile,
    Store,
    Tag,
    TimelineEntry,
    Transaction,
    TransactionLine,
)
from patron.members.names import pinyin_keys
from patron.members.numbers import sequential_member_no
from patron.tiers import services as tier_services

DEMO_PASSWORD = "patron-demo-2026"
DEMO_URL = "http://127.0.0.1:8000"
DEMO_ACTOR = "demo-data"

DAY = 86400
CHINA_OFFSET = 8 * 3600  # Asia/Shanghai has no daylight saving: a fixed offset is exact.

# --------------------------------------------------------------------------- reference data

# city, province, English name, store code prefix, weight (share of members), store locations.
CITIES: list[tuple[str, str, str, str, int, list[str]]] = [
    ("上海", "上海市", "Shanghai", "SH", 14, ["南京西路", "徐家汇", "陆家嘴", "五角场", "七宝"]),
    ("北京", "北京市", "Beijing", "BJ", 13, ["王府井", "中关村", "望京", "国贸", "西单"]),
    ("广州", "广东省", "Guangzhou", "GZ", 8, ["天河城", "北京路", "番禺"]),
    ("深圳", "广东省", "Shenzhen", "SZ", 8, ["南山", "福田", "宝安"]),
    ("杭州", "浙江省", "Hangzhou", "HZ", 6, ["西湖", "滨江", "武林"]),
    ("成都", "四川省", "Chengdu", "CD", 6, ["春熙路", "高新", "双流"]),
    ("南京", "江苏省", "Nanjing", "NJ", 4, ["新街口", "河西"]),
    ("武汉", "湖北省", "Wuhan", "WH", 4, ["江汉路", "光谷"]),
    ("西安", "陕西省", "Xi'an", "XA", 3, ["钟楼", "高新"]),
    ("重庆", "重庆市", "Chongqing", "CQ", 4, ["解放碑", "观音桥"]),
    ("苏州", "江苏省", "Suzhou", "SU", 3, ["观前街", "工业园区"]),
    ("天津", "天津市", "Tianjin", "TJ", 3, ["滨江道", "南开"]),
    ("长沙", "湖南省", "Changsha", "CS", 2, ["五一广场"]),
    ("青岛", "山东省", "Qingdao", "QD", 2, ["香港中路"]),
    ("厦门", "福建省", "Xiamen", "XM", 1, ["中山路"]),
    ("郑州", "河南省", "Zhengzhou", "ZZ", 1, ["二七广场"]),
    ("沈阳", "辽宁省", "Shenyang", "SY", 1, ["中街"]),
    ("昆明", "云南省", "Kunming", "KM", 1, ["南屏街"]),
]

TAGS: list[tuple[str, str, int]] = [  # name, English, weight
    ("车主", "Car owner", 18),
    ("宝妈", "Young mother", 14),
    ("健身", "Fitness", 10),
    ("咖啡爱好者", "Coffee lover", 10),
    ("宠物主", "Pet owner", 9),
    ("学生", "Student", 7),
    ("银发族", "Senior", 7),
    ("美妆达人", "Beauty fan", 7),
    ("数码控", "Gadget fan", 6),
    ("户外运动", "Outdoors", 5),
    ("烘焙", "Home baking", 4),
    ("红酒爱好者", "Wine lover", 3),
]

CATEGORIES: list[tuple[str, str, int]] = [  # name, SKU prefix, weight
    ("粮油", "GY", 16),
    ("生鲜", "SX", 22),
    ("日化", "RH", 14),
    ("零食饮料", "LS", 16),
    ("母婴", "MY", 7),
    ("酒水", "JS", 6),
    ("家电", "JD", 3),
    ("服饰", "FS", 6),
    ("美妆", "MZ", 6),
    ("家居", "JJ", 4),
]

JOIN_CHANNELS = [
    ("store", 45),
    ("wechat", 20),
    ("app", 15),
    ("online", 10),
    ("event", 4),
    ("referral", 4),
    ("phone", 2),
]
CONSENT_SOURCE = {
    "store": "pos",
    "event": "pos",
    "phone": "console",
    "referral": "portal",
    "online": "portal",
    "app": "portal",
    "wechat": "portal",
}
TAG_SOURCES = [("agent", 30), ("survey", 25), ("event", 20), ("rule", 15), ("import", 10)]
EMAIL_DOMAINS = [
    ("qq.com", 50),
    ("163.com", 20),
    ("126.com", 10),
    ("foxmail.com", 8),
    ("sina.com", 7),
    ("gmail.com", 5),
]
SPRING_FESTIVAL = {
    2022: (2, 1),
    2023: (1, 22),
    2024: (2, 10),
    2025: (1, 29),
    2026: (2, 17),
    2027: (2, 6),
    2028: (1, 26),
    2029: (2, 13),
    2030: (2, 3),
    2031: (1, 23),
    2032: (2, 11),
}
# Shop hours 09:00-22:00 local, busiest after work.
HOUR_WEIGHTS = [
    (9, 3),
    (10, 5),
    (11, 6),
    (12, 6),
    (13, 5),
    (14, 5),
    (15, 5),
    (16, 6),
    (17, 8),
    (18, 10),
    (19, 10),
    (20, 8),
    (21, 4),
]
# Valid Chinese mobile prefixes (checked against phonenumbers' metadata).
MOBILE_PREFIXES = [
    130,
    131,
    132,
    133,
    135,
    136,
    137,
    138,
    139,
    150,
    151,
    152,
    153,
    155,
    156,
    157,
    158,
    159,
    166,
    175,
    176,
    177,
    178,
    180,
    181,
    182,
    183,
    185,
    186,
    187,
    188,
    189,
    191,
    198,
    199,
]

ROLE_USERS: list[tuple[Role, str, str]] = [
    (Role.ADMIN, "demo_admin", "演示管理员"),
    (Role.MARKETER, "demo_marketer", "演示市场专员"),
    (Role.ANALYST, "demo_analyst", "演示数据分析师"),
    (Role.AGENT, "demo_agent", "演示客服"),
    (Role.SUPERVISOR, "demo_supervisor", "演示客服主管"),
    (Role.CASHIER, "demo_cashier", "演示收银员"),
    (Role.PROMOTER, "demo_promoter", "演示会籍顾问"),
]


@dataclass(frozen=True)
class StoreInfo:
    code: str
    name: str
    name_en: str
    city: str
    province: str
    weight: float


def store_catalogue() -> list[StoreInfo]:
    """The demo's ~40 stores, e.g. SH001 上海南京西路店."""
    stores = []
    for city, province, english, prefix, weight, places in CITIES:
        for n, place in enumerate(places, start=1):
            place_en = "".join(lazy_pinyin(place)).title()
            stores.append(
                StoreInfo(
                    code=f"{prefix}{n:03d}",
                    name=f"{city}{place}店",
                    name_en=f"{english} {place_en}",
                    city=city,
                    province=province,
                    weight=weight / len(places),
                )
            )
    return stores


# --------------------------------------------------------------------------- drafts


class Line(NamedTuple):
    sku: str
    category: str
    quantity: str
    cents: int


class Txn(NamedTuple):
    id: int
    kind: str  # sale | refund
    store: int  # index into the store catalogue
    at: int  # epoch seconds, UTC
    cents: int
    original_id: int | None
    channel: str
    lines: tuple[Line, ...]


@dataclass
class Profile:
    """How a member buys. `interval_days` is the personal rhythm of regular buyers (and of
    churners who were regular), the mean gap for occasional ones."""

    kind: str  # regular | occasional | seasonal | churner | none
    rhythm: str = "none"  # regular | occasional | festival: how the purchase dates are drawn
    interval_days: float = 0.0
    basket: float = 0.0  # median basket, CNY
    steady: bool = False  # the same basket every time, like a gas-cylinder refill
    churn_at: int | None = None


@dataclass
class MemberDraft:
    id: int
    member_no: str
    card_no: str | None
    name: str
    name_pinyin: str
    name_initials: str
    phone: str
    email: str
    gender: str
    birthday: str | None
    city: str
    language: str
    store: int
    joined_at: int
    join_channel: str
    entry_route: str
    referrer_id: int | None
    promoted: bool
    status: str
    status_reason: str
    status_at: int | None
    profile: Profile
    transactions: list[Txn] = field(default_factory=list)
    tags: list[tuple[int, str, int]] = field(default_factory=list)  # tag index, source, at
    consents: list[tuple[str, bool, str, str, int]] = field(
        default_factory=list
    )  # purpose, granted, notice, source, at


@dataclass(frozen=True)
class DemoConfig:
    members: int
    months: int
    seed: int
    now: dt.datetime  # aware; the last purchase is before it
    batch_members: int = 2000
    points: bool = True  # write each member's points ledger too (ledger_rows.py)
    rewards: bool = True  # and a points mall with its use (rewards.py); needs points
    # and monthly analytics refreshes (analytics.py): the `demo-data` command asks for them; tests
    # that only need members and sales skip their seconds.
    analytics: bool = False


class _Weighted:
    """rng.choices with precomputed cumulative weights: the hot loop draws millions of times."""

    def __init__(self, items: Sequence[Any], weights: Sequence[float]) -> None:
        self.items = items
        self.cum = list(itertools.accumulate(weights))
        self.total = self.cum[-1]

    def pick(self, rng: random.Random) -> Any:
        return self.items[bisect.bisect(self.cum, rng.random() * self.total)]


def _weighted(pairs: Sequence[tuple[Any, float]]) -> _Weighted:
    return _Weighted([p[0] for p in pairs], [p[1] for p in pairs])


# --------------------------------------------------------------------------- the generator


class DemoGenerator:
    """Drafts members and their history in id order. Pure: no database access."""

    def __init__(self, config: DemoConfig, stores: list[StoreInfo] | None = None) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.stores = stores or store_catalogue()
        self.end = int(config.now.timestamp())
        self.start = self.end - int(config.months * 30.44 * DAY)
        self._txn_ids = itertools.count(1)
        self._pinyin: dict[str, tuple[str, str]] = {}
        self._setup_choices()
        self._setup_phone_permutation()
        self.festivals = self._festival_days()

    def _setup_choices(self) -> None:
        self.store_pick = _Weighted(list(range(len(self.stores))), [s.weight for s in self.stores])
        self.city_pick = _weighted([(c[0], c[4]) for c in CITIES])
        by_city: dict[str, list[int]] = {}
        for i, s in enumerate(self.stores):
            by_city.setdefault(s.city, []).append(i)
        self.stores_in_city = by_city
        self.channel_pick = _weighted(JOIN_CHANNELS)
        self.tag_pick = _Weighted(list(range(len(TAGS))), [t[2] for t in TAGS])
        self.tag_source_pick = _weighted(TAG_SOURCES)
        self.domain_pick = _weighted(EMAIL_DOMAINS)
        self.hour_pick = _weighted(HOUR_WEIGHTS)
        self.category_pick = _Weighted(list(range(len(CATEGORIES))), [c[2] for c in CATEGORIES])
        surnames = ChineseNames.last_names
        self.surname_pick = _Weighted(list(surnames.keys()), list(surnames.values()))
        self.male_given = list(ChineseNames.first_names_male)
        self.female_given = list(ChineseNames.first_names_female)
        self.en_male = _Weighted(list(EnglishNames.first_names_male), list(EnglishNames.first_names_male.values()))
        self.en_female = _Weighted(
            list(EnglishNames.first_names_female), list(EnglishNames.first_names_female.values())
        )
        self.en_last = _Weighted(list(EnglishNames.last_names), list(EnglishNames.last_names.values()))

    def _setup_phone_permutation(self) -> None:
        # i -> (A*i + B) mod space is a bijection when A shares no factor with the space: unique
        # numbers without remembering the ones already given, spread over all prefixes and endings.
        self.phone_space = len(MOBILE_PREFIXES) * 10**8
        multiplier = 2_654_435_761  # prime, and not a factor of 2, 5 or 35
        while math.gcd(multiplier, self.phone_space) != 1:
            multiplier += 2
        self.phone_a = multiplier
        self.phone_b = self.rng.randrange(self.phone_space)

    def _festival_days(self) -> list[tuple[int, int]]:
        """(epoch of the festival day, days of shopping before it) for 春节, 618 and 双11 in range."""
        first = dt.datetime.fromtimestamp(self.start, dt.UTC).year
        last = dt.datetime.fromtimestamp(self.end, dt.UTC).year
        days = []
        for year in range(first, last + 1):
            month, day = SPRING_FESTIVAL.get(year, (2, 1))
            days.append((self._local_midnight(dt.date(year, month, day)), 14))
            days.append((self._local_midnight(dt.date(year, 6, 18)), 7))
            days.append((self._local_midnight(dt.date(year, 11, 11)), 5))
        return sorted(d for d in days if self.start <= d[0] <= self.end)

    @staticmethod
    def _local_midnight(day: dt.date) -> int:
        return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()) - CHINA_OFFSET

    # ----------------------------------------------------------------------- members

    def members(self) -> Iterator[MemberDraft]:
        for index in range(self.config.members):
            yield self.member(index)

    def chunks(self) -> Iterator[list[MemberDraft]]:
        it = self.members()
        while chunk := list(itertools.islice(it, self.config.batch_members)):
            yield chunk

    def member(self, index: int) -> MemberDraft:
        rng = self.rng
        member_id = index + 1
        name, gender, language = self._name()
        full, initials = self._pinyin_keys(name)
        store = self.store_pick.pick(rng)
        joined_at = self._join_time(index)
        channel = self.channel_pick.pick(rng) if member_id > 1 else "store"
        draft = MemberDraft(
            id=member_id,
            member_no=sequential_member_no(member_id),
            card_no=f"6288{member_id:010d}" if rng.random() < 0.35 else None,
            name=name,
            name_pinyin=full,
            name_initials=initials,
            phone=self.phone(index),
            email=self._email(full, language),
            gender=gender,
            birthday=self._birthday(joined_at),
            city=self.stores[store].city if rng.random() < 0.85 else self.city_pick.pick(rng),
            language=language,
            store=store,
            joined_at=joined_at,
            join_channel=channel,
            entry_route="open",
            referrer_id=rng.randrange(1, member_id) if channel == "referral" else None,
            promoted=channel in ("store", "event") and rng.random() < 0.15,
            status="active",
            status_reason="",
            status_at=None,
            profile=Profile("none"),
        )
        if self._is_pending_application(index, joined_at):
            draft.status, draft.entry_route = "pending", "application"
        else:
            draft.profile = self._profile(joined_at)
            draft.transactions = self._transactions(draft)
            self._maybe_freeze_or_close(draft)
        draft.consents = self._consents(draft)
        draft.tags = self._tags(draft)
        return draft

    def phone(self, index: int) -> str:
        x = (self.phone_a * index + self.phone_b) % self.phone_space
        return f"+86{MOBILE_PREFIXES[x // 10**8]}{x % 10**8:08d}"

    def _name(self) -> tuple[str, str, str]:
        rng = self.rng
        female = rng.random() < 0.52
        if rng.random() < 0.05:
            first = (self.en_female if female else self.en_male).pick(rng)
            language = "en" if rng.random() < 0.7 else "zh-hans"
            return f"{first} {self.en_last.pick(rng)}", "F" if female else "M", language
        pool = self.female_given if female else self.male_given
        given = rng.choice(pool)
        if len(given) == 1 and rng.random() < 0.45:
            given += rng.choice(pool)[0]
        gender = ("F" if female else "M") if rng.random() > 0.03 else "U"
        return self.surname_pick.pick(rng) + given, gender, "zh-hans"

    def _pinyin_keys(self, name: str) -> tuple[str, str]:
        keys = self._pinyin.get(name)
        if keys is None:
            keys = self._pinyin[name] = pinyin_keys(name)
        return keys

    def _email(self, pinyin: str, language: str) -> str:
        rng = self.rng
        if rng.random() > (0.7 if language == "en" else 0.3):
            return ""
        domain = self.domain_pick.pick(rng)
        if domain == "qq.com" and rng.random() < 0.7:
            return f"{rng.randrange(10**5, 10**10)}@qq.com"
        return f"{pinyin[:20]}{rng.randrange(1, 9999)}@{domain}"

    def _birthday(self, joined_at: int) -> str | None:
        rng = self.rng
        if rng.random() < 0.08:
            return None
        age_days = int(rng.triangular(18, 72, 34) * 365.25)
        born = dt.date(1970, 1, 1) + dt.timedelta(days=joined_at // DAY - age_days)
        return born.isoformat()

    def _join_time(self, index: int) -> int:
        """Joins grow over time (three times as many in the last month as in the first); ids follow
        join order, so member numbers rise with the join date."""
        growth = 2.0
        u = (index + self.rng.random()) / self.config.members
        t = (-1 + math.sqrt(1 + 2 * growth * u * (1 + growth / 2))) / growth
        return self._in_shop_hours(self.start + int(t * (self.end - self.start - DAY)))

    def _in_shop_hours(self, at: int) -> int:
        day_start = (at + CHINA_OFFSET) // DAY * DAY - CHINA_OFFSET
        moment = day_start + self.hour_pick.pick(self.rng) * 3600 + self.rng.randrange(3600)
        return min(moment, self.end - 60)

    def _is_pending_application(self, index: int, joined_at: int) -> bool:
        # A handful of applications wait for staff: the last three sign-ups and ~1% of the last month's.
        if index >= self.config.members - 3:
            return True
        return self.end - joined_at < 30 * DAY and self.rng.random() < 0.01

    # ----------------------------------------------------------------------- purchases

    def _profile(self, joined_at: int) -> Profile:
        rng = self.rng
        basket = rng.lognormvariate(math.log(90), 0.6)
        roll = rng.random()
        if roll < 0.30:
            return Profile("regular", "regular", self._personal_interval(), basket, steady=rng.random() < 0.5)
        if roll < 0.62:
            return Profile("occasional", "occasional", rng.uniform(45, 150), basket)
        if roll < 0.78:
            return Profile("seasonal", "festival", 0.0, basket * 1.5)
        churn_at = joined_at + int(rng.uniform(0.15, 0.7) * (self.end - joined_at))
        if rng.random() < 0.6:
            return Profile("churner", "regular", self._personal_interval(), basket, rng.random() < 0.5, churn_at)
        return Profile("churner", "occasional", rng.uniform(30, 90), basket, churn_at=churn_at)

    def _personal_interval(self) -> float:
        base = self.rng.choice([7, 14, 14, 21, 30, 30, 30, 30, 45, 45, 60, 60])
        return base * self.rng.lognormvariate(0, 0.1)

    def _purchase_times(self, member: MemberDraft) -> list[int]:
        profile, rng = member.profile, self.rng
        stop = profile.churn_at or self.end
        # Who joins in a store usually joins at the till; others come in within a few days.
        first = member.joined_at if member.join_channel == "store" else member.joined_at + int(rng.random() * 3 * DAY)
        if profile.rhythm == "festival":
            times = self._festival_purchases(member.joined_at, stop)
        elif profile.rhythm == "regular":
            times = self._regular_purchases(first, stop, profile.interval_days)
        else:
            times = self._occasional_purchases(first, stop, profile.interval_days)
        return [t for t in times if member.joined_at <= t < stop]

    def _regular_purchases(self, first: int, stop: int, interval: float) -> list[int]:
        times = [first]
        at = first + interval * DAY * self._jitter()
        while at < stop:
            times.append(self._in_shop_hours(int(at)))
            at += interval * DAY * self._jitter()
        return times

    def _jitter(self) -> float:
        """A regular buyer comes back after their interval, give or take a few days."""
        return min(1.3, max(0.7, self.rng.gauss(1.0, 0.08)))

    def _occasional_purchases(self, first: int, stop: int, mean_gap: float) -> list[int]:
        times, rng = [first], self.rng
        at = first + rng.expovariate(1 / (mean_gap * DAY)) + DAY
        while at < stop:
            times.append(self._in_shop_hours(int(at)))
            at += rng.expovariate(1 / (mean_gap * DAY)) + DAY
        return times

    def _festival_purchases(self, joined_at: int, stop: int) -> list[int]:
        rng, times = self.rng, []
        for day, lead in self.festivals:
            if joined_at <= day < stop and rng.random() < 0.75:
                for _ in range(1 if rng.random() < 0.7 else 2):
                    times.append(self._in_shop_hours(day - rng.randrange(lead) * DAY))
        if rng.random() < 0.5:  # the odd purchase outside the festivals
            times.append(self._in_shop_hours(joined_at + int(rng.random() * (stop - joined_at))))
        return sorted(times)

    def _transactions(self, member: MemberDraft) -> list[Txn]:
        out: list[Txn] = []
        stop = member.profile.churn_at or self.end
        for at in self._purchase_times(member):
            sale = self._sale(member, at)
            out.append(sale)
            if self.rng.random() < 0.03:
                refund = self._refund(sale, stop)
                if refund is not None:
                    out.append(refund)
        return out

    def _sale(self, member: MemberDraft, at: int) -> Txn:
        rng, profile = self.rng, member.profile
        if profile.steady:
            amount = profile.basket * rng.gauss(1.0, 0.04)
        else:
            amount = rng.lognormvariate(math.log(profile.basket), 0.8)
        cents = max(100, min(int(amount * 100), 5_000_000))
        roll = rng.random()
        channel = "store" if roll < 0.85 else ("online" if roll < 0.98 else "phone")
        lines = self._lines(cents) if rng.random() < 0.35 else ()
        return Txn(next(self._txn_ids), "sale", self._sale_store(member.store), at, cents, None, channel, lines)

    def _sale_store(self, home: int) -> int:
        roll = self.rng.random()
        if roll < 0.88:
            return home
        if roll < 0.96:
            return self.rng.choice(self.stores_in_city[self.stores[home].city])
        return self.rng.randrange(len(self.stores))

    def _lines(self, cents: int) -> tuple[Line, ...]:
        rng = self.rng
        count = min(1 + int(rng.expovariate(0.6)), 8, max(1, cents // 100))
        weights = [rng.random() + 0.2 for _ in range(count)]
        total = sum(weights)
        shares = [int(cents * w / total) for w in weights]
        shares[0] += cents - sum(shares)  # the first line takes the rounding so lines add up exactly
        lines = []
        for share in shares:
            name, prefix, _weight = CATEGORIES[self.category_pick.pick(rng)]
            quantity = f"{rng.uniform(0.2, 3):.3f}" if prefix == "SX" else f"{rng.randint(1, 4)}.000"
            lines.append(Line(f"{prefix}{rng.randrange(1, 3000):05d}", name, quantity, share))
        return tuple(lines)

    def _refund(self, sale: Txn, stop: int) -> Txn | None:
        rng = self.rng
        at = sale.at + int(rng.uniform(0.5, 14) * DAY)
        if at >= min(stop, self.end):
            return None
        cents = sale.cents if rng.random() < 0.6 else max(1, int(sale.cents * rng.uniform(0.1, 0.9)))
        return Txn(next(self._txn_ids), "refund", sale.store, at, cents, sale.id, sale.channel, ())

    def _maybe_freeze_or_close(self, member: MemberDraft) -> None:
        rng, profile = self.rng, member.profile
        if profile.kind == "churner" and rng.random() < 0.3 and profile.churn_at:
            member.status, member.status_reason = "closed", "会员申请注销"
            member.status_at = profile.churn_at + int(rng.uniform(1, 60) * DAY)
            if member.status_at >= self.end:
                member.status, member.status_reason, member.status_at = "active", "", None
        elif rng.random() < 0.003:
            member.status, member.status_reason = "frozen", "会员卡挂失,待补办"
            last = member.transactions[-1].at if member.transactions else member.joined_at
            member.status_at = min(self.end - 60, last + DAY)

    # ----------------------------------------------------------------------- consents and tags

    def _consents(self, member: MemberDraft) -> list[tuple[str, bool, str, str, int]]:
        rng = self.rng
        at, source = member.joined_at, CONSENT_SOURCE[member.join_channel]
        notice = "2024-01" if at < self._local_midnight(dt.date(2025, 1, 1)) else "2025-07"
        out = [("terms", True, notice, source, at)]
        if rng.random() < 0.85:
            out.append(("sms_marketing", True, notice, source, at))
            if rng.random() < 0.08:  # changed their mind later, usually by replying TD to an SMS
                out.append(("sms_marketing", False, notice, "sms", at + int(rng.random() * (self.end - at))))
        else:
            out.append(("sms_marketing", False, notice, source, at))
        if member.email:
            granted = rng.random() < 0.6
            out.append(("email_marketing", granted, notice, source, at))
            if granted and rng.random() < 0.05:
                out.append(("email_marketing", False, notice, "portal", at + int(rng.random() * (self.end - at))))
        if rng.random() < 0.4:
            out.append(("profiling", True, notice, source, at))
        return out

    def _tags(self, member: MemberDraft) -> list[tuple[int, str, int]]:
        rng = self.rng
        roll = rng.random()
        count = 0 if roll < 0.55 else 1 if roll < 0.85 else 2 if roll < 0.95 else 3
        chosen: dict[int, tuple[int, str, int]] = {}
        for _ in range(count):
            tag = self.tag_pick.pick(rng)
            if TAGS[tag][0] == "宝妈" and member.gender != "F":
                continue
            at = member.joined_at + int(rng.random() * (self.end - member.joined_at))
            chosen.setdefault(tag, (tag, self.tag_source_pick.pick(rng), at))
        return list(chosen.values())


# --------------------------------------------------------------------------- writing


def _table(model: type[Model], *names: str) -> tuple[str, list[str]]:
    meta = model._meta
    return meta.db_table, [str(meta.get_field(n).column) for n in names]  # type: ignore[union-attr]


MEMBER_COLUMNS = _table(
    Member,
    "id",
    "member_no",
    "card_no",
    "name",
    "name_pinyin",
    "name_initials",
    "phone",
    "phone_last4",
    "email",
    "gender",
    "birthday",
    "city",
    "language",
    "store",
    "joined_at",
    "join_channel",
    "entry_route",
    "referrer",
    "promoter",
    "status",
    "status_reason",
    "merged_into",
    "created_at",
    "updated_at",
)
TXN_COLUMNS = _table(
    Transaction,
    "id",
    "member",
    "store",
    "kind",
    "original",
    "external_id",
    "occurred_at",
    "amount",
    "currency",
    "channel",
    "source",
    "created_at",
)
LINE_COLUMNS = _table(TransactionLine, "id", "transaction", "sku", "category", "quantity", "amount")
TIMELINE_COLUMNS = _table(TimelineEntry, "id", "member", "at", "kind", "data", "actor_label")
CONSENT_COLUMNS = _table(
    ConsentRecord, "id", "member", "purpose", "granted", "notice_version", "source", "actor_label", "at"
)
TAG_COLUMNS = _table(MemberTag, "id", "member", "tag", "source", "tagged_at", "actor_label")
TABLES = [MEMBER_COLUMNS, TXN_COLUMNS, LINE_COLUMNS, TIMELINE_COLUMNS, CONSENT_COLUMNS, TAG_COLUMNS]
TABLES += ledger_rows.TABLES  # the points ledger: accounts, journals, postings, lots, lot moves


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


class RowBuilder:
    """Turns drafts into table rows, with the database ids of stores, tags and the promoter."""

    def __init__(
        self, stores: list[StoreInfo], store_ids: list[int], tag_ids: list[int], promoter_id: int | None, vendor: str
    ) -> None:
        self.store_codes = [s.code for s in stores]
        self.store_ids = store_ids
        self.tag_ids = tag_ids
        self.promoter_id = promoter_id
        # SQLite keeps Django's naive-UTC text; PostgreSQL gets an explicit offset.
        self.time_format = "%Y-%m-%d %H:%M:%S" if vendor == "sqlite" else "%Y-%m-%d %H:%M:%S+00"
        self.ids = {name: itertools.count(1) for name in ("line", "timeline", "consent", "tag")}
        self.ledger: ledger_rows.LedgerRowBuilder | None = None  # set by generate() when points are wanted

    def stamp(self, at: int) -> str:
        return time.strftime(self.time_format, time.gmtime(at))

    def rows(self, chunk: list[MemberDraft]) -> dict[str, list[tuple[Any, ...]]]:
        out: dict[str, list[tuple[Any, ...]]] = {table: [] for table, _cols in TABLES}
        for member in chunk:
            self._member_rows(member, out)
            if self.ledger is not None:
                self.ledger.member_rows(member, out)
        return out

    def _member_rows(self, m: MemberDraft, out: dict[str, list[tuple[Any, ...]]]) -> None:
        joined = self.stamp(m.joined_at)
        updated = self.stamp(m.status_at) if m.status_at else joined
        out[MEMBER_COLUMNS[0]].append(
            (
                m.id,
                m.member_no,
                m.card_no,
                m.name,
                m.name_pinyin,
                m.name_initials,
                m.phone,
                m.phone[-4:],
                m.email,
                m.gender,
                m.birthday,
                m.city,
                m.language,
                self.store_ids[m.store],
                joined,
                m.join_channel,
                m.entry_route,
                m.referrer_id,
                self.promoter_id if m.promoted else None,
                m.status,
                m.status_reason,
                None,
                joined,
                updated,
            )
        )
        timeline = out[TIMELINE_COLUMNS[0]]
        timeline.append(
            (
                next(self.ids["timeline"]),
                m.id,
                joined,
                "joined",
                json.dumps(
                    {
                        "channel": m.join_channel,
                        "route": m.entry_route,
                        "status": "pending" if m.status == "pending" else "active",
                    }
                ),
                DEMO_ACTOR,
            )
        )
        self._transaction_rows(m, out)
        self._consent_rows(m, out)
        self._tag_rows(m, out)
        if m.status_at:
            timeline.append(
                (
                    next(self.ids["timeline"]),
                    m.id,
                    updated,
                    "status_changed",
                    json.dumps({"old": "active", "new": m.status, "reason": m.status_reason}),
                    DEMO_ACTOR,
                )
            )

    def _transaction_rows(self, m: MemberDraft, out: dict[str, list[tuple[Any, ...]]]) -> None:
        txns, lines, timeline = out[TXN_COLUMNS[0]], out[LINE_COLUMNS[0]], out[TIMELINE_COLUMNS[0]]
        for t in m.transactions:
            at, code, amount = self.stamp(t.at), self.store_codes[t.store], _money(t.cents)
            external_id = f"{code}-{t.id:010d}"
            txns.append(
                (
                    t.id,
                    m.id,
                    self.store_ids[t.store],
                    t.kind,
                    t.original_id,
                    external_id,
                    at,
                    amount,
                    "CNY",
                    t.channel,
                    "demo",
                    at,
                )
            )
            for line in t.lines:
                lines.append((next(self.ids["line"]), t.id, line.sku, line.category, line.quantity, _money(line.cents)))
            # The same data the sale service puts on the timeline, built as text: json.dumps per row is slow.
            timeline.append(
                (
                    next(self.ids["timeline"]),
                    m.id,
                    at,
                    t.kind,
                    f'{{"transaction_id": {t.id}, "amount": "{amount}", "currency": "CNY", '
                    f'"store": "{code}", "external_id": "{external_id}"}}',
                    DEMO_ACTOR,
                )
            )

    def _consent_rows(self, m: MemberDraft, out: dict[str, list[tuple[Any, ...]]]) -> None:
        consents, timeline = out[CONSENT_COLUMNS[0]], out[TIMELINE_COLUMNS[0]]
        for purpose, granted, notice, source, at in m.consents:
            stamp = self.stamp(at)
            consents.append((next(self.ids["consent"]), m.id, purpose, granted, notice, source, DEMO_ACTOR, stamp))
            if at != m.joined_at:  # a later change of mind shows on the timeline, as the service does
                timeline.append(
                    (
                        next(self.ids["timeline"]),
                        m.id,
                        stamp,
                        "consent",
                        json.dumps({"purpose": purpose, "granted": granted, "source": source}),
                        DEMO_ACTOR,
                    )
                )

    def _tag_rows(self, m: MemberDraft, out: dict[str, list[tuple[Any, ...]]]) -> None:
        tags, timeline = out[TAG_COLUMNS[0]], out[TIMELINE_COLUMNS[0]]
        for tag, source, at in m.tags:
            stamp = self.stamp(at)
            actor = "demo_agent" if source == "agent" else DEMO_ACTOR
            tags.append((next(self.ids["tag"]), m.id, self.tag_ids[tag], source, stamp, actor))
            timeline.append(
                (
                    next(self.ids["timeline"]),
                    m.id,
                    stamp,
                    "tagged",
                    json.dumps({"tag": TAGS[tag][0], "source": source}, ensure_ascii=False),
                    actor,
                )
            )


class _SqliteWriter:
    def __init__(self) -> None:
        self.sql = {
            table: f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
            for table, cols in TABLES
        }

    def __enter__(self) -> _SqliteWriter:
        connection.ensure_connection()
        raw = connection.connection
        self.previous = (
            raw.execute("PRAGMA synchronous").fetchone()[0],
            raw.execute("PRAGMA cache_size").fetchone()[0],
        )
        # Bulk loading demo rows: a lost last batch on power failure is harmless (WAL keeps the file
        # consistent), while an fsync per batch and a small page cache would double the load time.
        # (Inside a caller's transaction, as in tests, the safety level cannot change: leave it.)
        self.tuned = not connection.in_atomic_block
        if self.tuned:
            raw.execute("PRAGMA synchronous=NORMAL")
            raw.execute("PRAGMA cache_size=-524288")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.tuned:
            raw = connection.connection
            raw.execute(f"PRAGMA synchronous={int(self.previous[0])}")
            raw.execute(f"PRAGMA cache_size={int(self.previous[1])}")

    def write(self, rows: dict[str, list[tuple[Any, ...]]]) -> None:
        raw = connection.connection
        with transaction.atomic():
            for table, _cols in TABLES:
                if rows[table]:
                    raw.executemany(self.sql[table], rows[table])


class _PostgresWriter:
    def __enter__(self) -> _PostgresWriter:
        connection.ensure_connection()
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def write(self, rows: dict[str, list[tuple[Any, ...]]]) -> None:
        with transaction.atomic(), connection.connection.cursor() as cur:
            # Demo rows are reproducible from the seed: not waiting for the WAL flush per batch is safe.
            cur.execute("SET LOCAL synchronous_commit = off")
            for table, cols in TABLES:
                if rows[table]:
                    with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                        for row in rows[table]:
                            copy.write_row(row)


# --------------------------------------------------------------------------- setup and the whole run


@dataclass
class DemoStats:
    members: int = 0
    transactions: int = 0
    lines: int = 0
    timeline: int = 0
    consents: int = 0
    tags: int = 0
    seconds: float = 0.0
    ledger: ledger_rows.LedgerTotals | None = None
    tiers: int = 0  # members placed above the lowest tier by the live tier model
    rewards: RewardsStats | None = None
    analytics: AnalyticsStats | None = None

    def count(self, rows: dict[str, list[tuple[Any, ...]]]) -> None:
        self.members += len(rows[MEMBER_COLUMNS[0]])
        self.transactions += len(rows[TXN_COLUMNS[0]])
        self.lines += len(rows[LINE_COLUMNS[0]])
        self.timeline += len(rows[TIMELINE_COLUMNS[0]])
        self.consents += len(rows[CONSENT_COLUMNS[0]])
        self.tags += len(rows[TAG_COLUMNS[0]])

    @property
    def members_per_second(self) -> float:
        return self.members / self.seconds if self.seconds else 0.0

    @property
    def transactions_per_second(self) -> float:
        return self.transactions / self.seconds if self.seconds else 0.0


def ensure_stores(stores: list[StoreInfo], now: dt.datetime) -> list[int]:
    """Create the catalogue's stores (those missing) and return their ids in catalogue order."""
    faker = Faker("zh_CN")
    faker.seed_instance(len(stores))
    existing = {s.code: s.pk for s in Store.objects.filter(code__in=[s.code for s in stores])}
    for info in stores:
        address = f"{info.province}{info.city}市{faker.street_address()}"
        if info.code not in existing:
            existing[info.code] = services.do_create_store(
                code=info.code,
                name=info.name,
                name_en=info.name_en,
                city=info.city,
                region=info.province,
                address=address,
            ).pk
    Store.objects.filter(code__in=[s.code for s in stores]).update(created_at=now - dt.timedelta(days=3 * 365))
    return [existing[s.code] for s in stores]


def ensure_staff(first_store_id: int) -> dict[str, Any]:
    """One account per role, all with DEMO_PASSWORD; the cashier and promoter work in the first store."""
    User = get_user_model()
    store = Store.objects.get(pk=first_store_id)
    users = {}
    for role, username, display in ROLE_USERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            bound = store if role in (Role.CASHIER, Role.PROMOTER) else None
            user = services.do_create_staff(
                username=username, password=DEMO_PASSWORD, role=role, display_name=display, store=bound
            )
        users[username] = user
    StaffProfile.objects.filter(user__in=users.values(), store__isnull=True, user__role=Role.CASHIER).update(
        store=store
    )
    return users


def ensure_tags() -> list[int]:
    ids = []
    for name, english, _weight in TAGS:
        tag, _created = Tag.objects.get_or_create(name=name, defaults={"name_en": english})
        ids.append(tag.pk)
    return ids


def ensure_earning_rule() -> None:
    """The rule the demo history was earned by (1 point per ¥1), so new sales earn the same way."""
    if not earning_queries.rules().exists():
        earning_services.do_create_rule_from_preset(preset_key="retail_base")


def reset_sequences() -> None:
    """Ids were given by the generator; move PostgreSQL's sequences past them (SQLite follows by itself)."""
    models: list[type[Model]] = [
        Member,
        Transaction,
        TransactionLine,
        TimelineEntry,
        ConsentRecord,
        MemberTag,
        *ledger_rows.MODELS,
    ]
    statements = connection.ops.sequence_reset_sql(no_style(), models)
    with connection.cursor() as cur:
        for sql in statements:
            cur.execute(sql)


def generate(config: DemoConfig, progress: Callable[[DemoStats], None] | None = None) -> DemoStats:
    """Write the whole demo programme into an empty member registry."""
    if Member.objects.exists():
        raise ValueError("The database already has members; demo data goes into an empty registry.")
    started = time.monotonic()
    stores = store_catalogue()
    with acting_as(Actor(label=DEMO_ACTOR)):
        store_ids = ensure_stores(stores, config.now)
        users = ensure_staff(store_ids[0])
        tag_ids = ensure_tags()
        if config.points:
            ensure_earning_rule()
    builder = RowBuilder(stores, store_ids, tag_ids, users["demo_promoter"].pk, connection.vendor)
    stats = DemoStats()
    drafts = DemoGenerator(config, stores)
    if config.points:
        builder.ledger = ledger_rows.prepare(builder, now=drafts.end, start=drafts.start, seed=config.seed)
        stats.ledger = builder.ledger.totals
    writer = _PostgresWriter() if connection.vendor == "postgresql" else _SqliteWriter()
    with writer:
        for chunk in drafts.chunks():
            rows = builder.rows(chunk)
            writer.write(rows)
            stats.count(rows)
            stats.seconds = time.monotonic() - started
            if progress:
                progress(stats)
    reset_sequences()
    refresh_planner_statistics()  # the nightly jobs below read the rows just written
    with acting_as(Actor(label=DEMO_ACTOR)):
        stats.tiers = ensure_tier_models(config.now)
        if config.points and config.rewards:
            stats.rewards = ensure_rewards(config.now, config.seed)
        if config.analytics:
            stats.analytics = ensure_analytics(config.now)
    stats.seconds = time.monotonic() - started
    return stats


def ensure_tier_models(now: dt.datetime) -> int:
    """The retail tier model, live, with every member placed by a replay of their history (and that
    history recorded as it would have happened); and a stricter draft to try in the simulator."""
    if tier_services.live_model() is not None:
        return 0
    live = tier_services.do_create_model_from_preset(preset="retail_spend", name="零售消费等级")
    tier_services.do_go_live(model=live, reason="demo")
    tier_services.forget_live_model()
    placed = tier_services.reevaluate_members(live.pk, chunk=5000, now=now, backfill=True)
    stricter = copy.deepcopy(live.config)
    stricter["tiers"][2]["qualify"] = {"spend": "6000"}
    stricter["tiers"][3]["qualify"] = {"spend": "20000"}
    tier_services.do_create_model(
        name="零售消费等级（金卡 ¥6,000 / 钻石 ¥20,000）", config=stricter, preset="retail_spend"
    )
    return placed
