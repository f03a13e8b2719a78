-- `.iter` files are the `iter` filetype (for setups that put editors/nvim on 'runtimepath'
-- without calling require("iterc").setup()).
vim.cmd([[autocmd BufRead,BufNewFile *.iter setfiletype iter]])
