"""When ``leadly up`` restarts a crashed service and when it gives up
(:class:`leadly.launcher.supervisor.RestartPolicy`), with crash times given, not waited for."""

from __future__ import annotations

from leadly.launcher.supervisor import RestartPolicy, exit_status
from leadly.settings import Settings


def crash_delays(policy: RestartPolicy, times: list[float]) -> list[float | None]:
    """The delay after each crash of one service at ``times``."""
    history: list[float] = []
    return [policy.after_crash(history, now) for now in times]


def test_backoff_doubles_up_to_its_cap_and_gives_up_after_max_crashes() -> None:
    policy = RestartPolicy(max_crashes=7, window=60, backoff=1, backoff_max=8)
    assert crash_delays(policy, [0, 1, 3, 7, 15, 23, 31]) == [1, 2, 4, 8, 8, 8, None]


def test_crashes_older_than_the_window_are_forgotten() -> None:
    policy = RestartPolicy(max_crashes=3, window=60, backoff=1, backoff_max=30)
    # Two quick crashes, then a long run: the next crash starts from the first delay again, and
    # crashes spread wider than the window never add up to giving up.
    assert crash_delays(policy, [0, 1, 100, 101, 200, 230]) == [1, 2, 1, 2, 1, 2]
    assert crash_delays(policy, [0, 1, 2]) == [1, 2, None]


def test_one_crash_allowed_means_the_old_behaviour_stop_at_the_first() -> None:
    assert crash_delays(RestartPolicy(max_crashes=1), [0]) == [None]


def test_the_policy_comes_from_the_settings() -> None:
    s = Settings.from_env(
        {
            "LEADLY_RESTART_MAX_CRASHES": "3",
            "LEADLY_RESTART_WINDOW_SECONDS": "3600",
            "LEADLY_RESTART_BACKOFF_SECONDS": "0.5",
            "LEADLY_RESTART_BACKOFF_MAX_SECONDS": "4",
        }
    )
    assert RestartPolicy.from_settings(s) == RestartPolicy(3, 3600, 0.5, 4)
    assert RestartPolicy.from_settings(Settings()) == RestartPolicy(5, 60, 1, 30)


def test_exit_status_names_the_signal() -> None:
    assert exit_status(-9) == "killed by SIGKILL, exit code -9"
    assert exit_status(1) == "exit code 1"
