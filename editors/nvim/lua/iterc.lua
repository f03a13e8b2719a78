-- iterc for Neovim: the `iter` filetype and the `iterc lsp` language server.
--
--   vim.opt.runtimepath:append("/path/to/iterc/editors/nvim")   -- or copy this file into lua/
--   require("iterc").setup()                      -- runs `iterc lsp` from $PATH
--   require("iterc").setup({ cmd = { "/path/to/venv/bin/iterc", "lsp" } })
--
-- Neovim 0.11+ registers the server with vim.lsp.config and vim.lsp.enable; 0.8 to 0.10
-- start it with vim.lsp.start; 0.7 (Debian 12's) with vim.lsp.start_client.
local M = {}

M.defaults = {
  cmd = { "iterc", "lsp" },
  root_markers = { "pyproject.toml", ".git" },
}

local function root_dir(bufnr, markers)
  local dir = vim.fn.fnamemodify(vim.api.nvim_buf_get_name(bufnr), ":p:h")
  for _, marker in ipairs(markers) do
    local found = vim.fn.findfile(marker, dir .. ";")
    if found == "" then
      found = vim.fn.finddir(marker, dir .. ";")
    end
    if found ~= "" then
      return (vim.fn.fnamemodify(found, ":p:h"):gsub("/%.git/?$", ""))
    end
  end
  return dir
end

function M.setup(opts)
  opts = vim.tbl_deep_extend("force", M.defaults, opts or {})

  vim.api.nvim_create_autocmd({ "BufRead", "BufNewFile" }, { pattern = "*.iter", command = "setfiletype iter" })
  vim.api.nvim_create_autocmd("FileType", {
    pattern = "iter",
    callback = function(args)
      vim.bo[args.buf].commentstring = "# %s"
      vim.bo[args.buf].expandtab = true
      vim.bo[args.buf].shiftwidth = 4
      vim.bo[args.buf].softtabstop = 4
    end,
  })

  if vim.lsp.config and vim.lsp.enable then
    vim.lsp.config("iterc", { cmd = opts.cmd, filetypes = { "iter" }, root_markers = opts.root_markers })
    vim.lsp.enable("iterc")
    return
  end
  vim.api.nvim_create_autocmd("FileType", {
    pattern = "iter",
    callback = function(args)
      local config = { name = "iterc", cmd = opts.cmd, root_dir = root_dir(args.buf, opts.root_markers) }
      if vim.lsp.start then
        vim.lsp.start(config)
      else
        if not M.client_id or vim.lsp.client_is_stopped(M.client_id) then
          M.client_id = vim.lsp.start_client(config)
        end
        vim.lsp.buf_attach_client(args.buf, M.client_id)
      end
    end,
  })
end

return M
