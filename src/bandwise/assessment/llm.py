"""The OpenAI-compatible assessor (OpenRouter by default) with our own retries and breaker.

The SDK's own retries are off (``max_retries=0``) so requests are not retried twice over;
this module retries 429 and 5xx answers and timeouts with exponential backoff, bounds every
request with a timeout, and stops calling a failing provider through a circuit breaker.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bandwise.assessment.breaker import CircuitBreaker
from bandwise.assessment.parsing import AnswerInvalid, parse_assessment
from bandwise.assessment.prompts import repair_prompt, system_prompt, user_prompt
from bandwise.assessment.types import AssessmentResult
from bandwise.config import Settings
from bandwise.errors import InvalidAssessment, ProviderUnavailable
from bandwise.models import TaskType
from bandwise.wording import plural

if TYPE_CHECKING:
    import openai

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({408, 409, 429}) | frozenset(range(500, 600))
MAX_RETRY_AFTER = 10.0
OPENROUTER_HEADERS = {"HTTP-Referer": "https://github.com/bandwise/bandwise", "X-Title": "bandwise"}


@dataclass(frozen=True)
class ProviderConfig:
    """How to reach the provider and how patient to be with it."""

    base_url: str
    api_key: str
    model: str
    timeout: float = 60.0
    max_retries: int = 2
    backoff_base: float = 1.0
    breaker_threshold: int = 5
    breaker_reset_after: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings) -> ProviderConfig:
        """Build the configuration from ``AI_*`` settings (``AI_API_KEY`` must be set)."""
        if settings.ai_api_key is None:
            raise ValueError("AI_API_KEY is not set")
        return cls(
            base_url=settings.ai_base_url,
            api_key=settings.ai_api_key.get_secret_value(),
            model=settings.ai_model,
            timeout=settings.ai_timeout,
            max_retries=settings.ai_max_retries,
        )


class LLMAssessor:
    """Score essays with a chat-completions model and validate its JSON answer."""

    def __init__(self, config: ProviderConfig, breaker: CircuitBreaker | None = None) -> None:
        self.config = config
        self.name = f"llm:{config.model}"
        self.breaker = breaker or CircuitBreaker(
            config.breaker_threshold, config.breaker_reset_after
        )
        # The SDK is imported when an assessor is built (about a second of CPU): a process that
        # never calls the LLM (the CLI, the offline bot, the test collection) never loads it.
        import openai

        self._client = openai.AsyncOpenAI(
            api_key=config.api_key,
            base_url=config.base_url,
            max_retries=0,
            timeout=config.timeout,
            default_headers=OPENROUTER_HEADERS,
        )

    async def close(self) -> None:
        """Close the HTTP client."""
        await self._client.close()

    async def assess(
        self, text: str, task_type: TaskType, *, prompt: str | None = None
    ) -> AssessmentResult:
        """Score ``text``; raise ProviderUnavailable or InvalidAssessment when it cannot."""
        if not self.breaker.allow():
            raise ProviderUnavailable(
                f"provider circuit open for {self.breaker.seconds_until_retry():.0f} s more"
            )
        messages: list[dict[str, str]] = [
            {"role": "system", "content": system_prompt(task_type)},
            {"role": "user", "content": user_prompt(text, prompt)},
        ]
        try:
            content = await self._complete(messages)
            try:
                result = parse_assessment(content, self.name)
            except AnswerInvalid as problem:
                log.warning(
                    "invalid assessment from %s (%s); asking for a repair", self.name, problem
                )
                messages += [
                    {"role": "assistant", "content": content},
                    {"role": "user", "content": repair_prompt(str(problem))},
                ]
                repaired = await self._complete(messages)
                try:
                    result = parse_assessment(repaired, self.name)
                except AnswerInvalid as again:
                    raise InvalidAssessment(
                        f"the model's answer stayed invalid after one repair: {again}"
                    ) from again
        except (ProviderUnavailable, InvalidAssessment):
            self.breaker.record_failure()
            raise
        self.breaker.record_success()
        return result

    async def _complete(self, messages: list[dict[str, str]]) -> str:
        import openai

        attempts = 1 + self.config.max_retries
        for attempt in range(1, attempts + 1):
            try:
                response = await asyncio.wait_for(self._request(messages), self.config.timeout)
            except (TimeoutError, openai.APITimeoutError) as error:
                failure: str = "timed out"
                retry_after: float | None = None
                cause: BaseException = error
            except openai.APIStatusError as error:
                if error.status_code not in RETRYABLE_STATUSES:
                    raise ProviderUnavailable(
                        f"provider refused the request: HTTP {error.status_code}"
                    ) from error
                failure, retry_after, cause = (
                    f"HTTP {error.status_code}",
                    _retry_after(error),
                    error,
                )
            except openai.APIConnectionError as error:
                failure, retry_after, cause = "connection failed", None, error
            else:
                return _content(response)
            if attempt == attempts:
                raise ProviderUnavailable(
                    f"provider failed after {plural(attempts, 'attempt')}: {failure}"
                ) from cause
            delay = min(
                MAX_RETRY_AFTER,
                retry_after
                if retry_after is not None
                else self.config.backoff_base * 2 ** (attempt - 1),
            )
            log.warning(
                "provider %s (attempt %d/%d), retrying in %.2f s", failure, attempt, attempts, delay
            )
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _request(self, messages: list[dict[str, str]]) -> Any:
        return await self._client.chat.completions.create(  # type: ignore[call-overload]
            model=self.config.model,
            messages=messages,
            temperature=0,
            response_format={"type": "json_object"},
        )


def _retry_after(error: openai.APIStatusError) -> float | None:
    value = error.response.headers.get("retry-after") if error.response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _content(response: Any) -> str:
    try:
        content = response.choices[0].message.content
    except (AttributeError, IndexError, TypeError):
        content = None
    if not isinstance(content, str) or not content.strip():
        return ""
    return content
