; Inno Setup script for holoremote on Windows: a per-user installer of the PyInstaller
; bundle, with Start-menu entry, uninstaller, version and icon.
;
; Built by installer/windows/build.ps1 (which runs PyInstaller first and passes the
; version from the package metadata, the one version source):
;   ISCC.exe /DAppVersion=0.1.0 /DNumericVersion=0.1.0.0 installer\windows\holoremote.iss
; Output: dist\holoremote-<version>-setup.exe
;
; Per-user: PrivilegesRequired=lowest installs into %LOCALAPPDATA%\Programs\holoremote
; without an administrator prompt; the user may still choose "install for all users"
; in the dialog (PrivilegesRequiredOverridesAllowed), which then asks for elevation.

#ifndef AppVersion
  #error AppVersion is not defined: run installer\windows\build.ps1 (it passes /DAppVersion)
#endif
#ifndef NumericVersion
  #define NumericVersion "0.0.0.0"
#endif
#define BundleDir "..\..\dist\holoremote-" + AppVersion

[Setup]
; The AppId identifies the installation for upgrades and the uninstaller: never change it.
AppId={{9EB271F3-EA1A-493E-B362-86A96AC6B388}
AppName=holoremote
AppVersion={#AppVersion}
AppVerName=holoremote {#AppVersion}
AppPublisher=holoremote contributors
AppComments=Secure Holographic Remoting connections through OpenXR
VersionInfoVersion={#NumericVersion}
VersionInfoProductVersion={#NumericVersion}
VersionInfoTextVersion={#AppVersion}
VersionInfoDescription=holoremote {#AppVersion} setup
DefaultDirName={autopf}\holoremote
DefaultGroupName=holoremote
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
SetupIconFile=..\..\app\resources\icons\holoremote.ico
UninstallDisplayIcon={app}\holoremote.exe
UninstallDisplayName=holoremote {#AppVersion}
OutputDir=..\..\dist
OutputBaseFilename=holoremote-{#AppVersion}-setup
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
; The PATH entry (optional task) is announced to running programs.
ChangesEnvironment=yes
; An upgrade replaces the whole folder: files of the old bundle must not linger.
CloseApplications=yes

[Tasks]
Name: "desktopicon"; Description: "Create a &desktop shortcut"; GroupDescription: "Shortcuts:"; Flags: unchecked
Name: "addtopath"; Description: "Add holoremote-cli to &PATH for this user"; GroupDescription: "Command line:"; Flags: unchecked

[InstallDelete]
; The previous version's bundle (library names change between versions).
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\holoremote"; Filename: "{app}\holoremote.exe"; WorkingDir: "{userdocs}"; Comment: "Secure Holographic Remoting connections through OpenXR"
Name: "{autodesktop}\holoremote"; Filename: "{app}\holoremote.exe"; WorkingDir: "{userdocs}"; Tasks: desktopicon

[Registry]
; Per-user install: the user's PATH; "all users" install: the machine's PATH.
Root: HKCU; Subkey: "Environment"; ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}"; Tasks: addtopath; Check: NeedsPathEntry(False)
Root: HKLM; Subkey: "SYSTEM\CurrentControlSet\Control\Session Manager\Environment"; ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}"; Tasks: addtopath; Check: NeedsPathEntry(True)

[Run]
Filename: "{app}\holoremote.exe"; Description: "Start holoremote"; Flags: nowait postinstall skipifsilent

[Code]
{ The folder is on PATH when one of its ';'-separated entries is exactly it. }
function PathHas(Path, Dir: string): Boolean;
begin
  Result := Pos(';' + Uppercase(Dir) + ';', ';' + Uppercase(Path) + ';') > 0;
end;

function EnvironmentKey(): Integer;
begin
  if IsAdminInstallMode() then
    Result := HKEY_LOCAL_MACHINE
  else
    Result := HKEY_CURRENT_USER;
end;

function EnvironmentSubkey(): string;
begin
  if IsAdminInstallMode() then
    Result := 'SYSTEM\CurrentControlSet\Control\Session Manager\Environment'
  else
    Result := 'Environment';
end;

{ True when this install mode (Machine: all users) matches and {app} is not yet on PATH. }
function NeedsPathEntry(Machine: Boolean): Boolean;
var
  Path: string;
begin
  Result := False;
  if Machine <> IsAdminInstallMode() then
    exit;
  if not RegQueryStringValue(EnvironmentKey(), EnvironmentSubkey(), 'Path', Path) then
    Path := '';
  Result := not PathHas(Path, ExpandConstant('{app}'));
end;

{ The uninstaller takes the folder out of PATH again (only that entry). }
procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
var
  Path, Dir: string;
  P: Integer;
begin
  if CurUninstallStep <> usPostUninstall then
    exit;
  if not RegQueryStringValue(EnvironmentKey(), EnvironmentSubkey(), 'Path', Path) then
    exit;
  Dir := ExpandConstant('{app}');
  if not PathHas(Path, Dir) then
    exit;
  Path := ';' + Path + ';';
  P := Pos(';' + Uppercase(Dir) + ';', Uppercase(Path));
  Delete(Path, P, Length(Dir) + 1);
  Path := Copy(Path, 2, Length(Path) - 2);
  RegWriteExpandStringValue(EnvironmentKey(), EnvironmentSubkey(), 'Path', Path);
end;
