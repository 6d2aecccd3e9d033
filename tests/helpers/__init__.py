"""Helpers several test packages share: headless Chromium (`browser`), an app served on a loopback port (`server`)."""
