"""Generate ``demo_rows.jsonl``, the dataset ``sharedlm demo`` runs: short support tickets and product reviews.

Deterministic (a fixed seed, no clock, no network): running it again rewrites the same bytes, and a test
checks the shipped file against it. Run ``python src/sharedlm/data/_make_demo_rows.py`` after changing it.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

ROW_COUNT = 1200
SEED = 20240611
OUTPUT = Path(__file__).with_name("demo_rows.jsonl")

PRODUCTS = [
    "AeroBlend 500 blender", "Nimbus X2 headphones", "TrailPro 3 hiking boots", "Lumen desk lamp",
    "Volt 12 power bank", "Quill mechanical keyboard", "Hearth cast-iron skillet", "Atlas carry-on suitcase",
    "Breeze tower fan", "Pixel Pal smartwatch", "Summit 2-person tent", "Brewmaster espresso machine",
    "Cloudrest memory-foam pillow", "Orbit robot vacuum", "Echo Mini speaker", "Glide office chair",
]
NAMES = ["Maria", "James", "Aisha", "Chen", "Lukas", "Priya", "Tom", "Sofia", "Kenji", "Fatima", "Diego", "Emma"]
CITIES = ["Lisbon", "Denver", "Toronto", "Manchester", "Osaka", "Austin", "Lyon", "Melbourne", "Nairobi", "Seattle"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

TICKETS = [
    "Order {order} for the {product} arrived on {day} with a cracked housing. I need a replacement before "
    "my trip to {city} next week.",
    "Hi, this is {name}. I was charged twice for order {order} ({product}). Please refund the duplicate charge.",
    "My {product} stopped charging after {weeks} weeks. I already tried a different cable and outlet.",
    "The tracking for order {order} has said 'in transit to {city}' since {day}. Where is my {product}?",
    "I'd like to change the delivery address of order {order} to our office in {city}. It hasn't shipped yet.",
    "The {product} I received is the wrong colour. Can {name} from your team call me back about an exchange?",
    "URGENT: the {product} started smoking when I plugged it in this morning. Order {order}. Nobody was hurt.",
    "Can I return the {product} after {weeks} weeks? It works but it is too loud for our apartment.",
    "Your chat agent {name} promised a callback on {day} and nobody called. Order {order} is still broken.",
    "How do I reset the {product} to factory settings? The manual doesn't say and the app keeps crashing.",
]
REVIEWS = [
    "Five stars. The {product} is quiet, sturdy and easy to clean. Bought a second one for my sister in {city}.",
    "The {product} looked great for {weeks} weeks and then the handle came loose. Disappointed.",
    "Decent {product} for the price. Shipping to {city} took longer than promised but support was helpful.",
    "Honestly the best {product} I've owned. Battery easily lasts a week and setup took five minutes.",
    "Returned the {product}. It was much smaller than the photos suggest and felt cheap.",
    "{name} at the store in {city} recommended the {product} and I'm glad they did. Works perfectly.",
    "Two stars: the {product} works, but the app asks for far too many permissions and crashes on {day}s.",
    "Arrived a day early, well packed. The {product} does exactly what it says. No complaints.",
    "The {product} is fine but the instructions were in the wrong language. Had to find a video online.",
    "After {weeks} weeks of daily use the {product} still feels new. Worth every cent.",
]


def make_rows(count: int = ROW_COUNT, seed: int = SEED) -> list[dict[str, str]]:
    """The demo rows: ``{"id": "msg-0001", "text": "..."}``, alternating tickets and reviews at random.

    Args:
        count: How many rows.
        seed: The random seed.
    """
    rng = random.Random(seed)
    rows = []
    for index in range(1, count + 1):
        template = rng.choice(TICKETS if rng.random() < 0.55 else REVIEWS)
        text = template.format(
            product=rng.choice(PRODUCTS), name=rng.choice(NAMES), city=rng.choice(CITIES), day=rng.choice(DAYS),
            order=f"#{rng.randrange(100000, 999999)}", weeks=rng.randrange(2, 15),
        )
        rows.append({"id": f"msg-{index:04d}", "text": text})
    return rows


def render(rows: list[dict[str, str]]) -> str:
    """The rows as JSONL text."""
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def main() -> int:
    """Write :data:`OUTPUT`."""
    OUTPUT.write_text(render(make_rows()), encoding="utf-8")
    print(f"wrote {ROW_COUNT} rows to {OUTPUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
