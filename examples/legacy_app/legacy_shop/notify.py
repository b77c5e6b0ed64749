"""Customer notifications (async, as the new parts of the legacy app are)."""

import asyncio


async def send_receipt(customer, amount, card_number=None):
    await asyncio.sleep(0)
    masked = f"card ending {card_number[-4:]}" if card_number else "no card"
    return f"receipt sent to {customer}: {amount:.2f} ({masked})"
