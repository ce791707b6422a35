"""The commands for teams that install the tool rather than clone it: init, doctor, certify,
verify and completion. `conformance.commands.cli` registers them with `add_parsers`; their work is done
in `scaffold`, `doctor` and `certificate`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from conformance.commands import scaffold
from conformance.engine.doctor import diagnose
from conformance.engine.errors import HarnessError
from conformance.engine.profiles import resolve_target_from_cwd, with_base_url
from conformance.engine.redact import redactor
from conformance.engine.transport import Transport
from conformance.reporting import certificate

__all__ = ["add_parsers"]

EXIT_PROBLEMS = 1
EXIT_USAGE = 2


def cmd_init(args: argparse.Namespace) -> int:
    directory = Path(args.directory)
    written = scaffold.scaffold(directory, name=args.name, team=args.team)
    for path, new in written:
        print(f"  {'created' if new else 'kept   '} {path}")
    print(f"\nNext: edit {directory / 'profiles' / 'targets' / (args.name + '.yaml')} (base_url, capabilities), then\n"
          f"  cd {directory} && export SCIM_TOKEN=... && scim-conformance doctor --target {args.name}\n"
          f"  scim-conformance run --target {args.name}     # your scenarios and the shipped ones")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from conformance.commands.cli import _ensure_token

    try:
        target, profiles_dir = resolve_target_from_cwd(args.target)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.insecure:
        from dataclasses import replace

        target = replace(target, verify_tls=False)
    server = None
    if target.embedded:
        import secrets

        from conformance.engine.embedded import start_embedded

        token = secrets.token_urlsafe(24)
        server = start_embedded(token)
        target = with_base_url(target, server.base_url)
    else:
        _ensure_token(args.target, profiles_dir)
        token = target.token()
    redactor.add_secret(token)
    print(f"scim-conformance doctor: {redactor.text(str(target.base_url))} (profile {target.id})")
    try:
        with Transport(target, token) as transport, Transport(target, None) as anonymous:
            findings = diagnose(target, transport, anonymous, has_token=bool(token))
    finally:
        if server is not None:
            from conformance.engine.embedded import stop_embedded

            stop_embedded(server)
    for finding in findings:
        print(f"  {finding.level:<4} {finding.check:<14} {redactor.text(finding.detail)}")
    failed = [f for f in findings if f.level == "FAIL"]
    print("\n" + (f"{len(failed)} problem(s): fix the first one and run doctor again" if failed
                  else "the target looks usable: scim-conformance run --target " + args.target))
    return EXIT_PROBLEMS if failed else 0


def cmd_certify(args: argparse.Namespace) -> int:
    from conformance.commands.cli import _run

    try:
        scenarios, profiles = certificate.certify_paths()
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    idps = [i.strip() for value in args.idp for i in value.split(",") if i.strip()]
    run_args = argparse.Namespace(target=args.target, paths=[str(scenarios)], idp=idps, k=None, m=None,
                                  reports=args.reports, verbose=False, pytest_args=[], insecure=args.insecure,
                                  fail_on="any")
    code = _run(run_args, html=False)
    results = Path(args.reports) / "allure-results"
    if code not in (0, 1) or not results.is_dir():
        print("error: the run did not complete; no certificate was written", file=sys.stderr)
        return code or EXIT_PROBLEMS
    document = certificate.build_certificate(results, certificate.scenario_set_digest(scenarios, profiles), idps)
    out = Path(args.out)
    page = certificate.write(document, out)
    print(f"\nCertificate:    {out} (and {page})")
    for result in document["results"]:
        print(f"  {result['name']:<24} {result['level']} ({result['passed']}/{result['ran']})")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    path = Path(args.certificate)
    try:
        document = certificate.load(path)
        scenarios, profiles = certificate.certify_paths()
    except (OSError, ValueError) as exc:
        print(f"error: {path}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    problems = certificate.verify_certificate(document, certificate.scenario_set_digest(scenarios, profiles))
    if problems:
        for problem in problems:
            print(f"{path}: does not verify: {problem}")
        return EXIT_PROBLEMS
    print(f"{path}: verifies: made by scim-conformance {document['tool']['version']} on {document['date']} "
          f"for {document['target'].get('url')}")
    for result in document["results"]:
        print(f"  {result['name']:<24} {result['level']} ({result['passed']}/{result['ran']})")
    return 0


def cmd_completion(args: argparse.Namespace) -> int:
    import shtab

    from conformance.commands.cli import build_parser

    print(shtab.complete(build_parser(), shell=args.shell))
    return 0


def add_parsers(commands: argparse._SubParsersAction) -> None:
    raw = argparse.RawDescriptionHelpFormatter
    init = commands.add_parser(
        "init", help="scaffold your team's own suite (target profile, example scenario, CI job)",
        formatter_class=raw,
        description="Write a target profile for your server, an example scenario that reuses the shipped\n"
                    "shared steps, a pytest.ini and a GitHub Actions job into DIR. Existing files are kept.\n"
                    "Your scenarios and the shipped ones then run together; yours replace ours by id.",
        epilog="example:\n  scim-conformance init my-scim-tests --name acme-scim\n"
               "  cd my-scim-tests && scim-conformance run --target acme-scim")
    init.add_argument("directory", nargs="?", default=".", help="where to write (default: the current folder)")
    init.add_argument("--name", default="my-server", help="the target profile's name (default: my-server)")
    init.add_argument("--team", default="my-team", help="the folder of your scenarios (default: my-team)")
    init.set_defaults(handler=cmd_init)

    doctor = commands.add_parser(
        "doctor", help="diagnose a target: reachable, TLS, auth, SCIM base URL, what it advertises",
        formatter_class=raw,
        description="Check a target before running scenarios: DNS/connection/TLS, whether the base URL\n"
                    "answers SCIM, whether the token is accepted and required, and what the server\n"
                    "advertises; suggests the capabilities its profile should declare. Creates nothing.",
        epilog="example:\n  export SCIM_TOKEN=...\n  scim-conformance doctor --target https://scim.example.com/scim/v2\n"
               "Exit status: 0 usable, 1 a problem was found, 2 usage error.")
    doctor.add_argument("--target", "-t", required=True, metavar="URL|PROFILE",
                        help="base URL, target profile name or file, or 'embedded'")
    doctor.add_argument("--insecure", action="store_true", help="do not verify the server's TLS certificate")
    doctor.set_defaults(handler=cmd_doctor)

    certify = commands.add_parser(
        "certify", help="run the shipped suites and write a certificate (JSON and Markdown)",
        formatter_class=raw,
        description="Run the shipped scenarios as the given IdPs and write a certificate: tool version,\n"
                    "scenario-set digest, target and what it advertises, per-IdP results and level, date.",
        epilog="example:\n  scim-conformance certify --target https://scim.example.com/scim/v2 --idp okta --idp entra\n"
               "  scim-conformance verify reports/certificate.json")
    certify.add_argument("--target", "-t", required=True, metavar="URL|PROFILE")
    certify.add_argument("--idp", action="append", required=True, metavar="ID",
                         help="an IdP profile to certify for (repeatable): okta, okta-aiw, entra, ...")
    certify.add_argument("--reports", default="reports", metavar="DIR", help="where the run's reports go")
    certify.add_argument("--out", default="reports/certificate.json", metavar="FILE",
                         help="the certificate (default: reports/certificate.json; a .md page beside it)")
    certify.add_argument("--insecure", action="store_true", help="do not verify the server's TLS certificate")
    certify.set_defaults(handler=cmd_certify)

    verify = commands.add_parser(
        "verify", help="check a certificate: unchanged, and made with this version's scenario set",
        formatter_class=raw,
        epilog="example:\n  scim-conformance verify reports/certificate.json\n"
               "Exit status: 0 verifies, 1 does not, 2 unreadable.")
    verify.add_argument("certificate", help="a certificate.json written by `scim-conformance certify`")
    verify.set_defaults(handler=cmd_verify)

    completion = commands.add_parser(
        "completion", help="print a shell completion script",
        formatter_class=raw,
        epilog="example:\n"
               "  scim-conformance completion bash > ~/.local/share/bash-completion/completions/scim-conformance\n"
               "  scim-conformance completion zsh > \"${fpath[1]}/_scim-conformance\"")
    completion.add_argument("shell", choices=("bash", "zsh", "tcsh"))
    completion.set_defaults(handler=cmd_completion)
