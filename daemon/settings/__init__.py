"""The configuration's keys, declared once (`keys`), and the configuration reference drawn from them (`reference`).

`daemon.config` loads the TOML file by this declaration; nothing here reads a file or the environment.
"""
