-- The state holds Model/m, but the pipeline no longer defines Model.
-- exit: 2
-- error: the state holds Model/m but the pipeline no longer defines type 'Model': define it again so ochre can delete it, or forget it with 'ochre state rm Model/m'
local ochre = require "ochre"
local Other = ochre.component "Other" {}
return Other "o" {}
