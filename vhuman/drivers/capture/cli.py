"""``vhuman capture calibrate`` and ``vhuman capture probe`` (the capture driver's CLI)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from vhuman.core import quat
from vhuman.drivers.base import DriverContext
from vhuman.drivers.capture.driver import CaptureDriver
from vhuman.safety.audit import AuditLog
from vhuman.safety.consent import Consent, require_consent


def consent_from_cli(operator: str | None, *, interactive: bool,
                     audit_path: str | Path | None = None) -> Consent:
    """Helper for the CLI: ``--consent NAME`` / interactive prompt → :class:`Consent`."""
    return require_consent(operator, interactive=interactive, audit=AuditLog(audit_path))


def add_subcommand(subparsers) -> None:
    """Add ``vhuman capture calibrate`` and ``vhuman capture probe``."""
    parser = subparsers.add_parser("capture", help="camera capture tools (calibrate, probe)")
    sub = parser.add_subparsers(dest="capture_cmd", required=True)
    for name, helptext in (("calibrate", "measure your neutral face into a profile"),
                           ("probe", "print what the capture measures, once a second")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--source", default="0", help="webcam index, video file, folder or URL")
        p.add_argument("--consent", metavar="NAME", default=None,
                       help="operator name: consent to the capture notice without a prompt")
        p.add_argument("--audit-log", default=None, help="audit log path")
        p.add_argument("--mirror", action="store_true", help="the frames are mirror images")
        p.add_argument("--body", action="store_true",
                       help="also capture the upper body (calibrate: the rest torso too)")
        p.add_argument("--seconds", type=float, default=2.0 if name == "calibrate" else 10.0)
        if name == "calibrate":
            p.add_argument("--profile", required=True, help="where to write the JSON profile")
        else:
            p.add_argument("--profile", default=None, help="calibration profile to apply")
        p.set_defaults(func=_cmd_capture)


def _cmd_capture(args) -> int:
    import json
    import sys

    from vhuman.core.clock import SystemClock
    from vhuman.core.errors import VhumanError

    def emit(event: str, **fields: Any) -> None:
        print(f"[capture] {event}", file=sys.stderr)

    async def main() -> int:
        audit = AuditLog(args.audit_log)
        consent = require_consent(args.consent, interactive=sys.stdin.isatty(), audit=audit)
        drv = CaptureDriver(args.source, consent=consent, audit=audit, mirror=args.mirror,
                            profile=None if args.capture_cmd == "calibrate" else args.profile,
                            body=args.body)
        ctx = DriverContext(clock=SystemClock(), emit=emit)
        await drv.start(ctx)
        try:
            if args.capture_cmd == "calibrate":
                print("Relax your face and look at the screen...", file=sys.stderr)
                await asyncio.sleep(0.5)  # let the tracker lock on first
                prof = await asyncio.to_thread(drv.calibrate, args.seconds, save=args.profile)
                print(json.dumps({"profile": args.profile, "frames": prof.frames,
                                  "body_rest": prof.body_rest is not None}))
                return 0
            end = ctx.clock.now_ns() + int(args.seconds * 1e9)
            while ctx.clock.now_ns() < end:
                await asyncio.sleep(1.0)
                pose = drv.sample(ctx.clock.now_ns())
                if pose is None:
                    print(json.dumps({"face": False}))
                    continue
                from vhuman.core.arkit import ARKIT_52

                yaw, pitch, roll = quat.to_euler(pose.head)
                top = sorted(zip(ARKIT_52, pose.weights.tolist(), strict=True),
                             key=lambda kv: -kv[1])[:5]
                body = {}
                if pose.bones is not None:
                    from vhuman.drivers.capture.retarget import arm_angles

                    body = {"arms_deg": {side: [round(v) for v in arm_angles(pose.bones, side)]
                                         for side in ("left", "right")},
                            "arm_weight": round(float(pose.bone_mask.max()), 2)}
                print(json.dumps({"confidence": round(pose.confidence, 2), **body,
                                  "head_deg": [round(v * 57.2958, 1) for v in (yaw, pitch, roll)],
                                  "gaze": [round(v, 3) for v in pose.gaze or (0, 0)],
                                  "top": {k: round(v, 2) for k, v in top}}))
            return 0
        finally:
            await drv.stop()

    try:
        return asyncio.run(main())
    except VhumanError as exc:
        print(f"vhuman capture: {exc}", file=sys.stderr)
        return 1
