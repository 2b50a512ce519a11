LJgarbage that is not bytecode
-- Precompiled bytecode (or garbage that looks like it) instead of source text.
-- exit: 2
-- error: syntax error: pipeline.lua: cannot load incompatible bytecode
