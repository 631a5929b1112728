#!/usr/bin/env python3
"""Generate Django password hash vectors, or check hashes with Django's check_password.

Usage:
    django_vectors.py [--cache DIR] generate   print JSON vectors on standard output
    django_vectors.py [--cache DIR] check      read JSON [{"password": ..., "hash": ...}, ...]
                                               on standard input, print a JSON list of booleans

The check mode uses the current Django release with every hasher it still ships, so the
sha1, unsalted_sha1 and unsalted_md5 forms fail there.

The script runs under the system python3 (3.10 or later). It creates a virtual environment,
installs Django, argon2-cffi and bcrypt from PyPI into it, and runs the hashers there. Django
5.1 removed the sha1, unsalted_sha1 and unsalted_md5 hashers, so their vectors come from Django
4.2, installed into a separate folder with `pip install --target`. The argon2i form, which
Django no longer emits, is built with argon2-cffi directly using the parameters of the Django
releases that did emit it (time_cost 2, memory_cost 512 KiB, parallelism 2).

With --cache DIR, the installs are kept in DIR and reused by later runs, and an flock on
DIR/.lock makes concurrent runs wait for one install. Without it a temporary folder is used
and removed. Exit status: 0 on success, 1 when an install or a check fails, 2 on a usage error.
"""

import argparse
import fcntl
import json
import os
import subprocess
import sys
import tempfile

MODERN_REQUIREMENTS = ["django>=5.2", "argon2-cffi", "bcrypt"]
LEGACY_REQUIREMENTS = ["django>=4.2,<5.0"]
INSTALLED_MARKER = ".installed"

PASSWORDS = ["correct horse battery staple", "p\u00e4ssw\u00f6rd \u2603 \u5bc6\u7801"]

MODERN_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.BCryptPasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    "django.contrib.auth.hashers.MD5PasswordHasher",
]
LEGACY_HASHERS = [
    "django.contrib.auth.hashers.SHA1PasswordHasher",
    "django.contrib.auth.hashers.UnsaltedSHA1PasswordHasher",
    "django.contrib.auth.hashers.UnsaltedMD5PasswordHasher",
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", help="folder that keeps the Django installs between runs")
    parser.add_argument("--inner", choices=["modern", "legacy"], help=argparse.SUPPRESS)
    parser.add_argument("mode", choices=["generate", "check"])
    args = parser.parse_args()

    if args.inner == "modern":
        run_modern(args.mode)
    elif args.inner == "legacy":
        run_legacy()
    elif args.cache:
        run_outer(args.mode, os.path.abspath(args.cache))
    else:
        with tempfile.TemporaryDirectory(prefix="django-vectors-") as cache:
            run_outer(args.mode, cache)


# Outer process: system python3, installs Django and runs this script inside the installs.


def run_outer(mode, cache):
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(cache, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        venv_python = install_modern(os.path.join(cache, "venv"))
        legacy_path = install_legacy(venv_python, os.path.join(cache, "django42"))

    if mode == "check":
        sys.stdout.write(run_inner(venv_python, "modern", "check", sys.stdin.read()))
        return

    vectors = json.loads(run_inner(venv_python, "modern", "generate", ""))
    vectors += json.loads(
        run_inner(venv_python, "legacy", "generate", "", {"PYTHONPATH": legacy_path})
    )
    json.dump(vectors, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


def install_modern(venv):
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(os.path.join(venv, INSTALLED_MARKER)):
        run_checked([sys.executable, "-m", "venv", "--clear", venv])
        pip_install(python, MODERN_REQUIREMENTS)
        open(os.path.join(venv, INSTALLED_MARKER), "w").close()
    return python


def install_legacy(venv_python, target):
    if not os.path.exists(os.path.join(target, INSTALLED_MARKER)):
        pip_install(venv_python, ["--upgrade", "--target", target] + LEGACY_REQUIREMENTS)
        open(os.path.join(target, INSTALLED_MARKER), "w").close()
    return target


def pip_install(python, arguments):
    run_checked(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"] + arguments
    )


def run_checked(command):
    result = subprocess.run(command, stdout=sys.stderr)
    if result.returncode != 0:
        fail(f"command failed with exit status {result.returncode}: {' '.join(command)}")


def run_inner(python, inner, mode, stdin_text, extra_env=None):
    env = dict(os.environ, **(extra_env or {}))
    command = [python, os.path.abspath(__file__), "--inner", inner, mode]
    result = subprocess.run(command, input=stdin_text, capture_output=True, text=True, env=env)
    sys.stderr.write(result.stderr)
    if result.returncode != 0:
        fail(f"{inner} Django run failed with exit status {result.returncode}")
    return result.stdout


def fail(message):
    sys.stderr.write(f"django_vectors.py: {message}\n")
    sys.exit(1)


# Inner processes: run inside the installs.


def setup_django(hashers):
    import django
    from django.conf import settings

    settings.configure(PASSWORD_HASHERS=hashers)
    django.setup()
    return django.get_version()


def run_modern(mode):
    version = setup_django(MODERN_HASHERS)
    from django.contrib.auth.hashers import check_password

    if mode == "check":
        pairs = json.load(sys.stdin)
        json.dump([check_password(pair["password"], pair["hash"]) for pair in pairs], sys.stdout)
        return

    vectors = hasher_vectors(MODERN_HASHERS, version)
    vectors += argon2i_vectors(version)
    json.dump(vectors, sys.stdout)


def run_legacy():
    version = setup_django(LEGACY_HASHERS)
    vectors = hasher_vectors(LEGACY_HASHERS, version)

    # Django's unsalted MD5 hasher writes the bare hex digest but also accepts "md5$$<hex>".
    for vector in list(vectors):
        if vector["algorithm"] == "unsalted_md5":
            prefixed = dict(vector, hash="md5$$" + vector["hash"], form="md5$$ prefix")
            check_vector(prefixed)
            vectors.append(prefixed)
    json.dump(vectors, sys.stdout)


def hasher_vectors(hasher_paths, version):
    from django.contrib.auth.hashers import get_hasher, make_password

    vectors = []
    for path in hasher_paths:
        algorithm = path_to_algorithm(path)
        hasher = get_hasher(algorithm)
        for password in PASSWORDS:
            vector = {
                "algorithm": hasher.algorithm,
                "password": password,
                "hash": make_password(password, hasher=hasher.algorithm),
                "source": f"Django {version}",
            }
            check_vector(vector)
            vectors.append(vector)
    return vectors


def path_to_algorithm(path):
    from django.utils.module_loading import import_string

    return import_string(path).algorithm


def argon2i_vectors(version):
    from importlib.metadata import version as package_version

    from argon2.low_level import Type, hash_secret

    vectors = []
    for argon2_version in (19, 16):
        for password in PASSWORDS:
            encoded = hash_secret(
                password.encode(),
                os.urandom(16),
                time_cost=2,
                memory_cost=512,
                parallelism=2,
                hash_len=16,
                type=Type.I,
                version=argon2_version,
            ).decode("ascii")
            vector = {
                "algorithm": "argon2",
                "password": password,
                "hash": "argon2" + encoded,
                "source": f"argon2-cffi {package_version('argon2-cffi')}, checked by Django {version}",
            }
            check_vector(vector)
            vectors.append(vector)
    return vectors


def check_vector(vector):
    from django.contrib.auth.hashers import check_password

    # The Rust tests check that a wrong password fails, so Django checks only the right one.
    if not check_password(vector["password"], vector["hash"]):
        fail(f"Django rejects its own {vector['algorithm']} hash")


if __name__ == "__main__":
    main()
