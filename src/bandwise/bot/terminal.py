"""Talk to the bot in a terminal: the real Dispatcher and services, Telegram answered in-process.

``bandwise bot try`` reads the candidate's lines, feeds each to the Dispatcher as a Telegram
update, and prints what the bot sends as chat: its texts, its inline buttons (numbered, picked
by typing the number), the history chart saved as a PNG whose path is printed. Nothing reaches
Telegram: ``RecordingSession`` answers every Bot API call locally and keeps the calls made.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import re
import tempfile
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.base import BaseSession
from aiogram.enums import ParseMode
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageText,
    GetUpdates,
    SendInvoice,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    Chat,
    FSInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
    User,
)

from bandwise.bot.dispatcher import build_dispatcher
from bandwise.config import Settings
from bandwise.runtime import open_runtime

# The Bot object needs a well-formed token; this one never leaves the process (no Telegram).
LOCAL_TOKEN = "1:local-session-no-telegram"  # noqa: S105 (not a secret)
POLL_WAIT_SECONDS = 0.5  # how long getUpdates waits for an update, like a short long-poll
MULTILINE = '"""'  # a line of its own starts and ends a message of several lines
QUIT = "/quit"

SentListener = Callable[[TelegramMethod[Any]], None]


class RecordingSession(BaseSession):
    """A Bot API session that answers every call in-process and keeps the calls made."""

    def __init__(self, listener: SentListener | None = None) -> None:
        super().__init__()
        self.requests: list[TelegramMethod[Any]] = []
        self.listener = listener
        self._updates: asyncio.Queue[Update] = asyncio.Queue()
        self._message_ids = itertools.count(1000)

    def deliver(self, update: Update) -> None:
        """Queue ``update`` for the bot's next getUpdates (when it polls)."""
        self._updates.put_nowait(update)

    async def close(self) -> None:
        """Nothing to close."""

    async def make_request(
        self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None
    ) -> Any:
        """Keep ``method`` and return a result of the type Telegram would return."""
        if isinstance(method, GetUpdates):
            return await self._poll()
        self.requests.append(method)
        if self.listener is not None:
            self.listener(method)
        returning = method.__returning__
        if returning is User:
            return User(id=bot.id, is_bot=True, first_name="bandwise", username="bandwise_bot")
        if returning is bool:
            return True
        if returning is Message:
            return Message(
                message_id=next(self._message_ids),
                date=datetime.now(UTC),
                chat=Chat(id=int(getattr(method, "chat_id", 0)), type="private"),
                text=getattr(method, "text", None),
            )
        raise NotImplementedError(f"the local session cannot answer {type(method).__name__}")

    async def _poll(self) -> list[Update]:
        try:
            first = await asyncio.wait_for(self._updates.get(), POLL_WAIT_SECONDS)
        except TimeoutError:
            return []
        taken = [first]
        while not self._updates.empty():
            taken.append(self._updates.get_nowait())
        return taken

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        """Refuse: the bot downloads no files."""
        raise NotImplementedError("the local session downloads no files")
        yield b""  # pragma: no cover (makes this an async generator)

    def take(self) -> list[TelegramMethod[Any]]:
        """Return the calls made since the last call and forget them."""
        taken, self.requests = self.requests, []
        return taken


def recording_bot(listener: SentListener | None = None) -> tuple[Bot, RecordingSession]:
    """Return a bot wired to a new recording session (HTML parse mode, as in production)."""
    session = RecordingSession(listener)
    bot = Bot(LOCAL_TOKEN, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
    return bot, session


class ChatUser:
    """Builds the updates one Telegram user sends: text messages and button presses."""

    _update_ids = itertools.count(1)
    _message_ids = itertools.count(1)

    def __init__(
        self, telegram_id: int = 7001, first_name: str = "Anna", username: str | None = "anna"
    ) -> None:
        self.user = User(id=telegram_id, is_bot=False, first_name=first_name, username=username)
        self.chat = Chat(id=telegram_id, type="private")

    def next_update_id(self) -> int:
        """Return a new update id."""
        return next(self._update_ids)

    def new_message(self, **fields: Any) -> Message:
        """Return a message from this user in their private chat."""
        return Message(
            message_id=next(self._message_ids),
            date=datetime.now(UTC),
            chat=self.chat,
            from_user=self.user,
            **fields,
        )

    def text(self, text: str) -> Update:
        """Return an update carrying a text message."""
        return Update(update_id=self.next_update_id(), message=self.new_message(text=text))

    def press(self, data: str) -> Update:
        """Return an update for pressing an inline button with callback ``data``."""
        query = CallbackQuery(
            id=str(self.next_update_id()),
            from_user=self.user,
            chat_instance="ci",
            data=data,
            message=self.new_message(text="(button message)"),
        )
        return Update(update_id=self.next_update_id(), callback_query=query)


def plain_text(markup: str) -> str:
    """Return Telegram HTML as plain terminal text (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"</?[a-zA-Z][^>]*>", "", markup))


@dataclass
class TerminalChat:
    """Prints what the bot sends as chat and remembers the buttons last shown."""

    out: TextIO
    charts_dir: Path
    buttons: list[InlineKeyboardButton] = field(default_factory=list)
    saved: list[Path] = field(default_factory=list)

    def say(self, text: str) -> None:
        """Print one message of the bot, its later lines indented under the first."""
        indented = "\n".join(f"    {line}" if line else "" for line in text.split("\n"))
        self.out.write(f"bandwise › {indented.lstrip()}\n")
        self.out.flush()

    def echo(self, text: str) -> None:
        """Print what the candidate sent (its first line, and how many lines it had)."""
        first, *more = text.split("\n")
        self.out.write(f"you › {first}" + (f" … ({len(more) + 1} lines)\n" if more else "\n"))
        self.out.flush()

    def show(self, method: TelegramMethod[Any]) -> None:
        """Print one Bot API call the way the candidate would see it in Telegram."""
        if isinstance(method, SendMessage | EditMessageText):
            self.say(plain_text(method.text or ""))
            self._show_buttons(method.reply_markup)
        elif isinstance(method, SendPhoto):
            path = self._save_photo(method)
            caption = plain_text(method.caption or "picture")
            self.say(f"[{caption}: {path}]" if path else f"[{caption}]")
        elif isinstance(method, SendInvoice):
            price = sum(item.amount for item in method.prices)
            self.say(
                f"[invoice: {method.title}, {price} {method.currency}: "
                "payments work only in Telegram]"
            )
        elif isinstance(method, AnswerCallbackQuery) and method.text:
            self.say(f"[{plain_text(method.text)}]")

    def _show_buttons(self, markup: Any) -> None:
        if not isinstance(markup, InlineKeyboardMarkup):
            return
        self.buttons = [button for row in markup.inline_keyboard for button in row]
        numbered = (f"[{n}] {b.text}" for n, b in enumerate(self.buttons, 1))
        self.out.write("    " + "   ".join(numbered) + "\n")
        self.out.flush()

    def _save_photo(self, method: SendPhoto) -> Path | None:
        photo = method.photo
        if isinstance(photo, BufferedInputFile):
            data = photo.data
        elif isinstance(photo, FSInputFile):
            data = Path(photo.path).read_bytes()
        else:
            return None
        self.charts_dir.mkdir(parents=True, exist_ok=True)
        path = self.charts_dir / f"{len(self.saved) + 1:03d}-{photo.filename or 'picture.png'}"
        path.write_bytes(data)
        self.saved.append(path)
        return path

    def picked(self, line: str) -> InlineKeyboardButton | None:
        """Return the button a line picks (its number), or None when the line is a message."""
        if line.isdigit() and 1 <= int(line) <= len(self.buttons):
            return self.buttons[int(line) - 1]
        return None


async def read_message(lines: TextIO) -> str | None:
    """Read the next message: one line, or the lines between two ``\"\"\"`` lines; None at end."""
    line = await asyncio.to_thread(lines.readline)
    if not line:
        return None
    if line.strip() != MULTILINE:
        return line.rstrip("\n")
    body: list[str] = []
    while (more := await asyncio.to_thread(lines.readline)) and more.strip() != MULTILINE:
        body.append(more.rstrip("\n"))
    return "\n".join(body)


async def converse(
    dispatcher: Dispatcher, lines: TextIO, chat: TerminalChat, user: ChatUser
) -> None:
    """Feed each message read from ``lines`` to ``dispatcher``; print replies until the end."""
    bot, _ = recording_bot(chat.show)
    typed = lines.isatty()  # typed lines are on the screen already; piped ones are echoed
    while (message := await read_message(lines)) is not None:
        text = message.strip()
        if text == QUIT:
            break
        if not text:
            continue
        button = chat.picked(text)
        if button is not None and button.callback_data is not None:
            chat.echo(f"[{button.text}]")
            update = user.press(button.callback_data)
        elif button is not None:
            chat.say(f"[a link button: {button.url or 'not a callback'}]")
            continue
        else:
            if not typed:
                chat.echo(message)
            update = user.text(message)
        await dispatcher.feed_update(bot, update)


GREETING = (
    "Chat with bandwise (database {database}; Telegram is not used). Type a message and press "
    'Enter; a line with only """ starts and ends a message of several lines (an essay); '
    "type a button's number to press it; /quit or Ctrl-D ends.\n"
)


async def try_bot(
    settings: Settings,
    lines: TextIO,
    out: TextIO,
    *,
    charts_dir: Path | None = None,
    user: ChatUser | None = None,
) -> TerminalChat:
    """Chat with the real bot over ``settings``' database from ``lines``; print to ``out``."""
    async with open_runtime(settings) as runtime:
        chat = TerminalChat(out, charts_dir or Path(tempfile.mkdtemp(prefix="bandwise-try-")))
        out.write(GREETING.format(database=settings.masked_database_url))
        await converse(build_dispatcher(runtime), lines, chat, user or ChatUser())
        return chat
