-- Run by tests/test_lsp_nvim.py in `nvim --headless`: set up iterc from editors/nvim, open a
-- .iter file, wait for the server's diagnostics, ask for hover and completion, and write
-- what came back to $ITERC_PROBE_OUT as JSON. Works on Neovim 0.7 and later.
local result = {}
local ok, err = pcall(function()
  vim.opt.runtimepath:append(vim.env.ITERC_NVIM_DIR)
  require("iterc").setup({ cmd = { vim.env.ITERC_PYTHON, "-m", "iterc", "lsp" } })
  vim.cmd("edit " .. vim.fn.fnameescape(vim.env.ITERC_PROBE_FILE))
  local buf = vim.api.nvim_get_current_buf()
  result.filetype = vim.bo[buf].filetype

  result.waited = vim.wait(30000, function() return #vim.diagnostic.get(buf) > 0 end, 20)
  result.diagnostics = {}
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    table.insert(result.diagnostics, {
      lnum = d.lnum, col = d.col, end_lnum = d.end_lnum, end_col = d.end_col,
      message = d.message, severity = d.severity, source = d.source,
    })
  end

  local uri = vim.uri_from_bufnr(buf)
  local function ask(method, line, character)
    local params = { textDocument = { uri = uri }, position = { line = line, character = character } }
    local responses = vim.lsp.buf_request_sync(buf, method, params, 10000) or {}
    for _, r in pairs(responses) do
      if r.result ~= nil then
        return r.result
      end
    end
    return nil
  end

  local hover = ask("textDocument/hover", tonumber(vim.env.ITERC_HOVER_LINE), tonumber(vim.env.ITERC_HOVER_COL))
  result.hover = hover and hover.contents and hover.contents.value or nil
  local completion = ask("textDocument/completion", tonumber(vim.env.ITERC_COMPLETE_LINE),
    tonumber(vim.env.ITERC_COMPLETE_COL))
  result.completion = {}
  for _, item in ipairs((completion and (completion.items or completion)) or {}) do
    table.insert(result.completion, { label = item.label, detail = item.detail })
  end
  result.clients = #(vim.lsp.get_clients or vim.lsp.get_active_clients)()
end)
result.ok = ok
result.error = ok and nil or tostring(err)
local f = assert(io.open(vim.env.ITERC_PROBE_OUT, "w"))
f:write(vim.json.encode(result))
f:close()
vim.cmd("qall!")
