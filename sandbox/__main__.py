"""`python -m sandbox`: serve the local Slack and Looker until Ctrl-C, for pointing a real run
at them (`.env.sandbox` holds the matching settings)."""

from __future__ import annotations

import argparse
import threading
from pathlib import Path

from sandbox.desk import post_sample_memos
from sandbox.looker import DEMO_EMAIL, DEMO_PASSWORD, LookerSandbox
from sandbox.looker_skins import EDITORS, SKINS
from sandbox.slack import ANALYST, BOT_TOKEN, MEMO_CHANNEL_NAME, SlackSandbox
from sandbox.warehouse import DEFAULT_PATH, build_warehouse


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--slack-port", type=int, default=8901)
    parser.add_argument("--looker-port", type=int, default=8902)
    parser.add_argument("--idp-port", type=int, default=8903)
    parser.add_argument("--skin", choices=SKINS, default="accessible", help="how Looker draws")
    parser.add_argument(
        "--viewer", choices=("pre", "editor"), default="editor", help="accessible skin's SQL viewer"
    )
    parser.add_argument("--editor", choices=EDITORS, default="cm6", help="bare skin's SQL editor")
    parser.add_argument("--no-memos", action="store_true", help="start with an empty channel")
    parser.add_argument("--warehouse", type=Path, default=DEFAULT_PATH, help="demo warehouse file")
    args = parser.parse_args()
    warehouse = build_warehouse(args.warehouse)
    with (
        SlackSandbox(port=args.slack_port) as slack,
        LookerSandbox(
            skin=args.skin,
            viewer=args.viewer,
            editor=args.editor,
            app_port=args.looker_port,
            idp_port=args.idp_port,
        ) as looker,
    ):
        if not args.no_memos:
            post_sample_memos(slack, looker, warehouse)
        print(
            f"""CreditBot sandbox is up (Ctrl-C stops it)
  Slack Web API   {slack.api_url}   (control: {slack.url}/_sandbox/)
  bot token       {BOT_TOKEN}
  channel         #{MEMO_CHANNEL_NAME}; alert user {ANALYST}
  Looker          {looker.base_url}   (SSO provider {looker.idp_url}; skin {args.skin})
  demo sign-in    {DEMO_EMAIL} / {DEMO_PASSWORD}
  warehouse       {warehouse}
Point a run at it:  cp .env.sandbox .env && python main.py login && python main.py once""",
            flush=True,
        )
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("\nsandbox stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
