<#
.SYNOPSIS
  Build holoremote for Windows: the PyInstaller bundle, then the Inno Setup installer.

.DESCRIPTION
  Run from any folder on a Windows 10/11 x64 machine with Python 3.11 (python.org or
  the Store; `py -3.11` must work) and Inno Setup 6 (https://jrsoftware.org/isinfo.php,
  or `winget install JRSoftware.InnoSetup`):

      powershell -ExecutionPolicy Bypass -File installer\windows\build.ps1
      powershell -File installer\windows\build.ps1 -CertificateThumbprint <SHA-1> # signed

  Steps (each stops the script on failure):
    1. a venv in .venv-windows with the project and its `installers` extra;
    2. the version from the package metadata (the one version source);
    3. PyInstaller with installer\holoremote.spec -> dist\holoremote-<version>\
       (holoremote.exe without console, holoremote-cli.exe with one, icon and
       version resource on both);
    4. a smoke test of the bundle: --version and demo;
    5. with -CertificateThumbprint: Authenticode signatures on both executables
       (installer\README.md, "Signing");
    6. ISCC -> dist\holoremote-<version>-setup.exe, signed too with -CertificateThumbprint.
#>
[CmdletBinding()]
param(
    [string]$PythonLauncher = "py",
    [string]$PythonVersion = "-3.11",
    [string]$Iscc = "",
    [string]$CertificateThumbprint = "",
    [string]$TimestampUrl = "http://timestamp.digicert.com"
)
$ErrorActionPreference = "Stop"
Set-StrictMode -Version Latest
$Root = Resolve-Path (Join-Path $PSScriptRoot "..\..")
Set-Location $Root

function Invoke-Checked([string]$What, [scriptblock]$Command) {
    & $Command
    if ($LASTEXITCODE -ne 0) { throw "$What failed (exit $LASTEXITCODE)" }
}

# 1. The build environment.
$Venv = Join-Path $Root ".venv-windows"
$Python = Join-Path $Venv "Scripts\python.exe"
if (-not (Test-Path $Python)) {
    Invoke-Checked "creating $Venv" { & $PythonLauncher $PythonVersion -m venv $Venv }
}
Invoke-Checked "pip upgrade" { & $Python -m pip install --quiet --upgrade pip }
Invoke-Checked "installing holoremote[installers]" { & $Python -m pip install --quiet -e ".[installers]" }

# 2. One version source: the package metadata.
$Version = (& $Python -c "import app; print(app.__version__)").Trim()
$Numeric = (& $Python -c "import sys; sys.path.insert(0, 'installer'); import app, version_resource as v; print('.'.join(map(str, v.numeric_version(app.__version__))))").Trim()
Write-Host "holoremote $Version ($Numeric)"

# 3. The bundle.
Invoke-Checked "PyInstaller" {
    & $Python -m PyInstaller --noconfirm --clean --log-level WARN --distpath dist `
        --workpath build\pyinstaller installer\holoremote.spec
}
$Bundle = Join-Path $Root "dist\holoremote-$Version"

# 4. Smoke test: the console executable says its version and runs both ends.
$Said = (& "$Bundle\holoremote-cli.exe" --version).Trim()
if ($Said -ne "holoremote $Version") { throw "bundle says '$Said', expected 'holoremote $Version'" }
Invoke-Checked "holoremote-cli demo" { & "$Bundle\holoremote-cli.exe" demo | Out-Null }

# 5. Authenticode (optional): signtool from the Windows SDK.
function Get-SignTool {
    $found = Get-Command signtool.exe -ErrorAction SilentlyContinue
    if ($found) { return $found.Source }
    $kits = Join-Path ${env:ProgramFiles(x86)} "Windows Kits\10\bin"
    $tool = Get-ChildItem $kits -Recurse -Filter signtool.exe -ErrorAction SilentlyContinue |
        Where-Object { $_.FullName -match "\\x64\\" } | Sort-Object FullName -Descending |
        Select-Object -First 1
    if (-not $tool) { throw "signtool.exe not found: install the Windows SDK (Signing Tools)" }
    return $tool.FullName
}
function Invoke-Sign([string[]]$Files) {
    if (-not $CertificateThumbprint) { return }
    $signtool = Get-SignTool
    Invoke-Checked "signtool sign" {
        & $signtool sign /sha1 $CertificateThumbprint /fd SHA256 /tr $TimestampUrl /td SHA256 `
            /d "holoremote" $Files
    }
    Invoke-Checked "signtool verify" { & $signtool verify /pa /v $Files | Out-Null }
}
Invoke-Sign @("$Bundle\holoremote.exe", "$Bundle\holoremote-cli.exe")

# 6. The installer.
if (-not $Iscc) {
    $candidates = @(
        (Get-Command iscc.exe -ErrorAction SilentlyContinue | ForEach-Object Source),
        (Join-Path ${env:ProgramFiles(x86)} "Inno Setup 6\ISCC.exe"),
        (Join-Path $env:ProgramFiles "Inno Setup 6\ISCC.exe"),
        (Join-Path $env:LOCALAPPDATA "Programs\Inno Setup 6\ISCC.exe")
    ) | Where-Object { $_ -and (Test-Path $_) }
    if (-not $candidates) { throw "ISCC.exe not found: install Inno Setup 6 or pass -Iscc" }
    $Iscc = @($candidates)[0]
}
Invoke-Checked "ISCC" {
    & $Iscc /Qp "/DAppVersion=$Version" "/DNumericVersion=$Numeric" installer\windows\holoremote.iss
}
$Setup = Join-Path $Root "dist\holoremote-$Version-setup.exe"
Invoke-Sign @($Setup)
$Mb = [math]::Round((Get-Item $Setup).Length / 1MB, 1)
Write-Host "installer: $Setup ($Mb MB)"
