-- The asset pipeline of a toy game, driven by the host in main.cpp. Texture and Shader
-- are native types (their hooks are the host's C++); Material and Level are Lua.
local ochre = require "ochre"

local Material = ochre.component "Material" {
  fields = { texture = ochre.required, shader = ochre.required },
  create = function(self)
    print(("material %s: %d texels, shader %s"):format(self.identifier,
      self.texture.outputs.texels, self.shader.outputs.program))
    return { ready = true }
  end,
  update = function(self)
    print("material " .. self.identifier .. " rebuilt")
  end,
}

local Level = ochre.component "Level" {
  fields = { materials = {} },
  create = function(self) print("level " .. self.identifier .. " packed") end,
  update = function(self) print("level " .. self.identifier .. " repacked") end,
}

local lit = ochre.Shader "lit" { source = "shaders/lit.glsl" }
return Level "one" {
  materials = {
    Material "stone" { texture = ochre.Texture "stone" { source = "textures/stone.txt" }, shader = lit },
    Material "grass" { texture = ochre.Texture "grass" { source = "textures/grass.txt", size = 128 },
                       shader = lit },
  },
}
