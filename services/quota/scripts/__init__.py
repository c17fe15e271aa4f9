"""The quota Lua scripts (package data: a package, so wheels carry the .lua files)."""
