"""Run the profiles service: python -m corridor_profiles (settings from CORRIDOR_* and CORRIDOR_CONFIG)."""

from __future__ import annotations


from corridor_runtime.entrypoint import run_service

from .bootstrap import SERVICE, build


def main() -> None:
    run_service(SERVICE, build)


if __name__ == "__main__":
    main()
