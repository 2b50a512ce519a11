-- ochre.notify with a secret from a variable that is not set.
-- exit: 2
-- error: pipeline.lua:@HERE: ochre.notify: no secret to sign deliveries with: pass secret = os.getenv "NAME" and set that variable (or set OCHRE_NOTIFY_SECRET and use --notify)
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
ochre.notify { url = "http://127.0.0.1:9/hook", secret = os.getenv "OCHRE_TEST_UNSET_SECRET" } -- HERE
return Model "m" { source = "data" }
