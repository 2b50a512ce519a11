LJgarbage that is not bytecode
-- Precompiled bytecode (or garbage that looks like it) instead of source text.
-- exit: 2
-- error: pipeline.lua: syntax error: a precompiled (bytecode) chunk; ochre loads Lua source only
