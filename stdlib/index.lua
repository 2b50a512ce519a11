-- Which stdlib module defines each ochre.X name: ochre.File loads stdlib/file.lua on
-- first use, and so on. One component type per module, so using one never defines
-- another type whose name a pipeline may have taken for its own.
return {
  File = "file",
  Dir = "dir",
  Template = "template",
  render = "render",
  Command = "command",
  SqliteTable = "sqlite_table",
  sqlite = "sqlite",
  Folder = "folder",
  log = "log",
  env = "env",
  quote = "quote",
}
