-- Train: prepare features from a CSV, fit a small linear model in Lua, evaluate it on
-- held-out rows, and "deploy" it only if it beats the model deployed now.
--
-- Shows: a read hook that watches an input (the CSV's SHA-256: edit the data and the
-- chain runs again); each step's files in its own area of the state directory
-- (self:path); outputs flowing down (weights, test RMSE); a final step that decides
-- from the world (deployed/model.json) whether to act. Change `epochs` or `lambda`: the
-- model, its evaluation and the deployment run again, the features do not; a worse model
-- is evaluated but not deployed.
--
--   cd examples/train && ochre run pipeline.lua
local ochre = require "ochre"

local function mean_std(values)
  local sum, sq = 0, 0
  for _, v in ipairs(values) do sum = sum + v end
  local mean = sum / #values
  for _, v in ipairs(values) do sq = sq + (v - mean) ^ 2 end
  return mean, math.sqrt(sq / #values)
end

local function read_json(path) return ochre.json.decode(assert(ochre.fs.read(path))) end

-- Parses the CSV, holds out every `test_every`-th row, standardises the features with
-- the training rows' mean and deviation.
local Features = ochre.component "Features" {
  fields = { csv = ochre.required, target = ochre.required, test_every = 5, csv_sha256 = "" },
  read = function(self) self.csv_sha256 = assert(ochre.sha256_file(self.csv)) end,
  create = function(self) return self:prepare() end,
  update = function(self) return self:prepare() end,
  prepare = function(self)
    local lines = {}
    for line in assert(ochre.fs.read(self.csv)):gmatch("[^\r\n]+") do lines[#lines + 1] = line end
    local header = {}
    for name in lines[1]:gmatch("[^,]+") do header[#header + 1] = name end
    local columns, rows = {}, {}
    for _, name in ipairs(header) do if name ~= self.target then columns[#columns + 1] = name end end
    for i = 2, #lines do
      local row, j = {}, 0
      for v in lines[i]:gmatch("[^,]+") do j = j + 1 row[header[j]] = tonumber(v) end
      rows[#rows + 1] = row
    end
    local split = { train = {}, test = {} }
    for i, row in ipairs(rows) do
      table.insert(i % self.test_every == 0 and split.test or split.train, row)
    end
    local scale = {}
    for _, c in ipairs(columns) do
      local values = {}
      for _, row in ipairs(split.train) do values[#values + 1] = row[c] end
      local mean, std = mean_std(values)
      scale[c] = { mean = mean, std = std > 0 and std or 1 }
    end
    local data = {}
    for part, list in pairs(split) do
      data[part] = {}
      for _, row in ipairs(list) do
        local x = {}
        for k, c in ipairs(columns) do x[k] = (row[c] - scale[c].mean) / scale[c].std end
        table.insert(data[part], { x = x, y = row[self.target] })
      end
    end
    local path = self:path "features.json"
    assert(ochre.fs.write(path, ochre.json.encode(data)))
    print(("%d training rows, %d test rows, features: %s"):format(#data.train, #data.test,
      table.concat(columns, ", ")))
    return { path = path, columns = columns, n_train = #data.train, n_test = #data.test }
  end,
}

local function predict(m, x)
  local y = m.bias
  for k, w in ipairs(m.weights) do y = y + w * x[k] end
  return y
end

local function rmse(m, rows)
  local sq = 0
  for _, r in ipairs(rows) do sq = sq + (predict(m, r.x) - r.y) ^ 2 end
  return math.sqrt(sq / #rows)
end

-- Linear regression with an L2 penalty, fitted by batch gradient descent.
local Model = ochre.component "Model" {
  fields = { features = ochre.required, epochs = 300, learning_rate = 0.1, lambda = 0.01 },
  create = function(self) return self:fit() end,
  update = function(self) return self:fit() end,
  fit = function(self)
    local train = read_json(self.features.outputs.path).train
    local n, k = #train, #self.features.outputs.columns
    local m = { bias = 0, weights = {} }
    for j = 1, k do m.weights[j] = 0 end
    for _ = 1, self.epochs do
      local gb, gw = 0, {}
      for j = 1, k do gw[j] = 0 end
      for _, r in ipairs(train) do
        local err = predict(m, r.x) - r.y
        gb = gb + err
        for j = 1, k do gw[j] = gw[j] + err * r.x[j] end
      end
      m.bias = m.bias - self.learning_rate * gb / n
      for j = 1, k do
        m.weights[j] = m.weights[j] - self.learning_rate * (gw[j] / n + self.lambda * m.weights[j])
      end
    end
    local path = self:path "model.json"
    assert(ochre.fs.write(path, ochre.json.encode(m)))
    local train_rmse = rmse(m, train)
    print(("fitted in %d epochs, training RMSE %.2f"):format(self.epochs, train_rmse))
    return { path = path, bias = m.bias, weights = m.weights, train_rmse = train_rmse }
  end,
}

local Evaluation = ochre.component "Evaluation" {
  fields = { model = ochre.required, features = ochre.required },
  create = function(self) return self:evaluate() end,
  update = function(self) return self:evaluate() end,
  evaluate = function(self)
    local test = read_json(self.features.outputs.path).test
    local score = rmse(self.model.outputs, test)
    print(("test RMSE %.3f on %d rows"):format(score, #test))
    return { rmse = score }
  end,
}

-- Copies the model to deployed/model.json when its test RMSE beats the deployed one's.
local Deployment = ochre.component "Deployment" {
  fields = { evaluation = ochre.required, model = ochre.required, dir = "deployed" },
  create = function(self) return self:deploy() end,
  update = function(self) return self:deploy() end,
  delete = function(self)
    ochre.fs.remove(self.dir .. "/model.json")
    local left = ochre.fs.list(self.dir)
    if left and #left == 0 then ochre.fs.remove(self.dir) end
  end,
  deploy = function(self)
    local target = self.dir .. "/model.json"
    local current = ochre.fs.exists(target) and read_json(target)
    local score = self.evaluation.outputs.rmse
    if current and current.rmse <= score then
      print(("kept the deployed model: its RMSE %.3f <= %.3f"):format(current.rmse, score))
      return { deployed = false, rmse = current.rmse }
    end
    local m = read_json(self.model.outputs.path)
    m.rmse = score
    assert(ochre.fs.mkdir(self.dir))
    assert(ochre.fs.write(target, ochre.json.encode(m)))
    print(("deployed the new model: RMSE %.3f%s"):format(score,
      current and (" < %.3f"):format(current.rmse) or ""))
    return { deployed = true, rmse = score }
  end,
}

local features = Features "houses" { csv = "data/houses.csv", target = "price_k" }
local model = Model "price" { features = features, epochs = 300, lambda = 0.01 }
local evaluation = Evaluation "price" { model = model, features = features }
return Deployment "price" { evaluation = evaluation, model = model }
