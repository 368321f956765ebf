"""`bandwise bot try`: a terminal chat with the real Dispatcher, services and database."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

from bandwise.bot import keyboards, texts
from bandwise.bot.terminal import ChatUser, plain_text, read_message, try_bot
from bandwise.config import Settings
from testkit.essays import TASK1_ESSAY, TASK2_ESSAY
from testkit.service import subprocess_env

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def essay_block(essay: str) -> str:
    """Return the lines that send ``essay`` as one message of several lines."""
    return f'"""\n{essay}\n"""\n'


async def test_a_conversation_scores_essays_and_saves_the_history_chart(
    settings: Settings, tmp_path: Path
) -> None:
    charts = tmp_path / "charts"
    # Pick "Submit Writing Task 2" (the greeting's second button), send an essay of several
    # lines, then a Task 1 essay directly (its task is detected), then /history.
    lines = io.StringIO(
        "/start\n2\n" + essay_block(TASK2_ESSAY) + essay_block(TASK1_ESSAY) + "/history\n"
    )
    out = io.StringIO()

    chat = await try_bot(settings, lines, out, charts_dir=charts, user=ChatUser(4242, "Ola"))

    transcript = out.getvalue()
    assert "Telegram is not used" in transcript
    assert plain_text(texts.greeting("Ola")).splitlines()[0] in transcript
    assert f"[2] {keyboards.SUBMIT_TASK_2}" in transcript
    assert f"you › [{keyboards.SUBMIT_TASK_2}]" in transcript
    assert "you › /start\n" in transcript  # piped lines are echoed
    assert transcript.count("— assessment") == 2, transcript
    assert len(chat.saved) == 1
    chart = chat.saved[0]
    assert chart.parent == charts and chart.read_bytes().startswith(PNG_SIGNATURE)
    assert str(chart) in transcript


async def test_reading_messages_of_one_and_several_lines() -> None:
    lines = io.StringIO('hello\n"""\nfirst paragraph\n\nsecond\n"""\nlast\n')
    assert await read_message(lines) == "hello"
    assert await read_message(lines) == "first paragraph\n\nsecond"
    assert await read_message(lines) == "last"
    assert await read_message(lines) is None


def test_plain_text_drops_tags_and_decodes_entities() -> None:
    assert plain_text("<b>Band</b> 6.5 &amp; <i>more</i> &lt;3") == "Band 6.5 & more <3"


def test_the_command_chats_on_the_default_embedded_database(
    bandwise_executable: str, tmp_path: Path
) -> None:
    env = subprocess_env(
        SQLITE_PATH=str(tmp_path / "bandwise.db"),
        MAINTENANCE_FLAG_PATH=str(tmp_path / "maintenance.flag"),
        BACKUP_DIR=str(tmp_path / "backups"),
    )
    result = subprocess.run(
        [bandwise_executable, "bot", "try", "--charts-dir", str(tmp_path / "charts")],
        input="/start\n3\n/quit\nnever read\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "you › [" + keyboards.CHECK_HISTORY + "]" in result.stdout
    assert plain_text(texts.NO_HISTORY).splitlines()[0] in result.stdout
    assert "never read" not in result.stdout
    assert (tmp_path / "bandwise.db").exists()
